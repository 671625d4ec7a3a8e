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

// NewSource is the end of every backend's New, once the defaults are
// applied to its Config: problems are what the Config's Validate found,
// returned as a capture.Problems error when there are any; otherwise it
// returns the Source build makes with the Base of c, the Config's
// capture.SourceConfig. It does not connect.
func NewSource[S any](c capture.SourceConfig, problems []capture.Problem, build func(Base) *S) (*S, error) {
	if len(problems) > 0 {
		return nil, capture.Problems(problems)
	}
	return build(Base{
		Log:      c.Logger,
		Patterns: NewTablePatterns(c.Tables),
		Reads:    capture.NewReadBound(c.StallTimeout),
		types:    c.ColumnTypes,
	}), nil
}

// ColumnTypes returns the user's type choices for table id (none when
// Config.ColumnTypes is nil).
func (b Base) ColumnTypes(id capture.TableID) schema.ColumnTypes {
	if b.types == nil {
		return schema.ColumnTypes{}
	}
	return b.types(id)
}
