package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema"
)

// printSample prints the first rows of two demo tables read back from
// the Iceberg warehouse in dir, through the same SQLite catalog floe
// wrote (as any Iceberg reader would).
func printSample(ctx context.Context, out io.Writer, dir string) error {
	cat, err := lakewriter.Open(ctx, lakewriter.Options{
		CatalogType: "sql",
		URI:         "sqlite://" + filepath.Join(dir, "catalog.db"),
		Warehouse:   filepath.Join(dir, "warehouse"),
	})
	if err != nil {
		return err
	}
	defer cat.Close()
	for _, name := range []string{"orders", "customers"} {
		tbl, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: "shop", Name: name})
		if err != nil {
			return err
		}
		layout := tbl.Layout()
		fmt.Fprintf(out, "\nshop.%s (first rows read back from Iceberg):\n", name)
		n := 0
		errEnough := errors.New("enough")
		err = tbl.Scan(ctx, func(row schema.Row) error {
			cells := make([]string, 0, len(row))
			for i, c := range layout.Columns {
				v := schema.FormatValue(row[i], c.Type)
				if len(v) > 40 {
					v = v[:37] + "..."
				}
				cells = append(cells, c.Name+"="+v)
			}
			fmt.Fprintln(out, "  "+strings.Join(cells, " "))
			n++
			if n == 3 {
				return errEnough
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
	}
	return nil
}
