package toolkit

import (
	"fmt"
	"strings"

	"github.com/floe-cdc/floe/capture"
)

// AsPosition returns p as the source's own position type P; p may hold a
// P or a *P. Anything else is a programming error (positions of two
// sources compared or acknowledged across) and panics naming source.
func AsPosition[P capture.Position](p capture.Position, source string) P {
	switch v := any(p).(type) {
	case P:
		return v
	case *P:
		return *v
	}
	panic(fmt.Sprintf("%s: cannot compare with position of type %T", source, p))
}

// PositionOf returns a source's typed position as a capture.Position, or
// nil and err when err is set (never a non-nil interface holding a zero value).
func PositionOf[P capture.Position](p P, err error) (capture.Position, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// CutPositionPrefix removes prefix, a source's versioned position prefix
// such as "pg.v1:", from s and returns the rest. A position of the same
// source in another version ("pg.v2:...") is an unsupported-version error;
// anything else is "not a <kind> position (want <prefix><form>)".
func CutPositionPrefix(s, prefix, kind, form string) (string, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if ok {
		return rest, nil
	}
	family, _, _ := strings.Cut(prefix, ".")
	if v, _, found := strings.Cut(s, ":"); found && strings.HasPrefix(v, family+".") {
		return "", fmt.Errorf("decode position %q: unsupported version %q (this build reads %q)", s, v, strings.TrimSuffix(prefix, ":"))
	}
	return "", fmt.Errorf("decode position %q: not a %s position (want %s%s)", s, kind, prefix, form)
}
