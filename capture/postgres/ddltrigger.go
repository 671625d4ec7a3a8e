package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DDL capture by event trigger.
//
// pgoutput carries no DDL: a Relation message announces a table's new
// layout before its first change in it, and a rename then looks like a
// drop and an add. Floe's event trigger (DDLTriggerSQL) closes that gap:
// at ddl_command_end of every ALTER TABLE it emits a transactional
// logical message (prefix DDLPrefix) that names the table by OID and
// lists its live columns after the command by attnum, name and NOT NULL,
// with the command text. The message is decoded in the DDL's own transaction, at
// its commit position, before any change in the new layout; a column
// whose attnum Floe knows under another name was renamed (ddlMessage).
//
// The trigger is optional. Without it (or on a server whose pgoutput
// streams no messages, PostgreSQL 13) Floe falls back to Relation diffs
// (relation.go), which refuse a rename.

// DDLPrefix is the logical message prefix of the event trigger's messages.
const DDLPrefix = "floe.ddl"

// ddlMessageVersion is the version of the message's JSON ("v"); the
// function that writes it is in DDLTriggerSQL. Version 1 listed the
// columns as [attnum, name], version 2 as [attnum, name, notnull]; both
// are read (a trigger installed by an older build keeps working, and the
// columns' nullability then comes from the catalog). A message of
// another version stops the stream (install the trigger of this build).
const ddlMessageVersion = 2

// DDLTriggerSQL installs (or replaces) Floe's DDL event trigger. Event
// triggers are database-wide and need a superuser to create; the
// function is SECURITY DEFINER so that any role's ALTER TABLE may emit
// the message (pg_logical_emit_message is not granted to PUBLIC). It
// touches no table and only reads the catalog.
const DDLTriggerSQL = `CREATE OR REPLACE FUNCTION public.floe_ddl_message() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $floe$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT objid FROM pg_event_trigger_ddl_commands()
           WHERE classid = 'pg_class'::regclass AND object_type IN ('table', 'table column') LOOP
    PERFORM pg_logical_emit_message(true, 'floe.ddl', json_build_object(
      'v', 2,
      'oid', r.objid::bigint,
      'columns', (SELECT coalesce(json_agg(json_build_array(attnum, attname, attnotnull) ORDER BY attnum), '[]')
                  FROM pg_attribute WHERE attrelid = r.objid AND attnum > 0 AND NOT attisdropped),
      'command', left(current_query(), 2000))::text);
  END LOOP;
END $floe$;
DROP EVENT TRIGGER IF EXISTS floe_ddl;
CREATE EVENT TRIGGER floe_ddl ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.floe_ddl_message();`

// ddlMessage is the content of one DDLPrefix message: a table's live
// columns after an ALTER TABLE.
type ddlMessage struct {
	Version int    `json:"v"`
	OID     uint32 `json:"oid"`
	// Columns are [attnum, name, notnull] in attnum order (version 1:
	// [attnum, name]).
	Columns [][]any `json:"columns"`
	Command string  `json:"command"`
	// notNull is each column's NOT NULL after the command, by attnum
	// (parseDDLMessage; nil for a version 1 message).
	notNull map[int16]bool
}

// parseDDLMessage decodes a DDLPrefix message and returns its columns by
// attnum.
func parseDDLMessage(content []byte) (ddlMessage, map[int16]string, error) {
	var m ddlMessage
	if err := json.Unmarshal(content, &m); err != nil {
		return m, nil, fmt.Errorf("decode %s message: %w", DDLPrefix, err)
	}
	if m.Version != 1 && m.Version != ddlMessageVersion {
		return m, nil, fmt.Errorf("%s message of version %d, this build reads 1 to %d: install this build's event trigger (floe check --fix)", DDLPrefix, m.Version, ddlMessageVersion)
	}
	shape, width := "[attnum, name, notnull]", 3
	if m.Version == 1 {
		shape, width = "[attnum, name]", 2
	} else {
		m.notNull = make(map[int16]bool, len(m.Columns))
	}
	cols := make(map[int16]string, len(m.Columns))
	for _, c := range m.Columns {
		if len(c) != width {
			return m, nil, fmt.Errorf("decode %s message: column %v is not %s", DDLPrefix, c, shape)
		}
		num, ok1 := c[0].(float64)
		name, ok2 := c[1].(string)
		if !ok1 || !ok2 || num < 1 || num > 1600 {
			return m, nil, fmt.Errorf("decode %s message: column %v is not %s", DDLPrefix, c, shape)
		}
		cols[int16(num)] = name
		if m.notNull != nil {
			notNull, ok := c[2].(bool)
			if !ok {
				return m, nil, fmt.Errorf("decode %s message: column %v is not %s", DDLPrefix, c, shape)
			}
			m.notNull[int16(num)] = notNull
		}
	}
	return m, cols, nil
}

// DDLTriggerInstalled reports whether Floe's DDL event trigger is
// installed and enabled in the source database.
func (s *Source) DDLTriggerInstalled(ctx context.Context) (bool, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	return ddlTriggerInstalled(ctx, conn)
}

func ddlTriggerInstalled(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'floe_ddl' AND evtenabled <> 'D'
		AND evtevent = 'ddl_command_end')`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read event triggers: %w", err)
	}
	return ok, nil
}

// DDLTriggerOutdated reports whether the installed DDL event trigger's
// function is an older build's: one whose messages are not of
// ddlMessageVersion (version 1 leaves the columns' nullability to the
// catalog, which a replay may postdate). False when none is installed.
func (s *Source) DDLTriggerOutdated(ctx context.Context) (bool, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var src string
	err = conn.QueryRow(ctx, `SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure('public.floe_ddl_message()')`).Scan(&src)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the DDL event trigger's function: %w", err)
	}
	return !strings.Contains(src, fmt.Sprintf("'v', %d,", ddlMessageVersion)), nil
}

// InstallDDLTrigger installs Floe's DDL event trigger (DDLTriggerSQL) in
// the source database, replacing an older one. It needs a superuser; the
// error of another user says so and quotes where the SQL is.
func (s *Source) InstallDDLTrigger(ctx context.Context) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, DDLTriggerSQL); err != nil {
		return fmt.Errorf("install the DDL event trigger in database %s as %s: %v; run the SQL of `floe check --print-ddl-trigger` (also in the README) as a superuser",
			s.cfg.Database, s.cfg.User, oneLine(err))
	}
	return nil
}
