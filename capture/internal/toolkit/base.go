package toolkit

import (
	"log/slog"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Base is what every backend's Source derives from its configuration
// when New builds it; it does not change afterwards.
type Base struct {
	Log      *slog.Logger       // Config.Logger
	Patterns TablePatterns      // Config.Tables
	Reads    *capture.ReadBound // bounds every read of the query connections (capture/readbound.go)
	types    func(capture.TableID) schema.ColumnTypes
}

// NewBase is the check every backend's New makes once the defaults are
// applied to its Config: problems are what the Config's Validate found,
// returned as a capture.Problems error when there are any; otherwise it
// returns the Base of c, the Config's capture.SourceConfig. It does not
// connect.
func NewBase(c capture.SourceConfig, problems []capture.Problem) (Base, error) {
	if len(problems) > 0 {
		return Base{}, capture.Problems(problems)
	}
	return Base{
		Log:      c.Logger,
		Patterns: NewTablePatterns(c.Tables),
		Reads:    capture.NewReadBound(c.StallTimeout),
		types:    c.ColumnTypes,
	}, nil
}

// ColumnTypes returns the user's type choices for table id (none when
// Config.ColumnTypes is nil).
func (b Base) ColumnTypes(id capture.TableID) schema.ColumnTypes {
	if b.types == nil {
		return schema.ColumnTypes{}
	}
	return b.types(id)
}
