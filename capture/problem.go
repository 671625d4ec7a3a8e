package capture

import (
	"errors"
	"strings"
)

// Problem is one thing wrong with a source or its configuration, as a
// source's preflight check (and its setup errors) report it: the
// configuration field it concerns, what is wrong, and how to fix it.
type Problem struct {
	Field   string
	Message string
	Fix     string
	// Err is the error the problem was found from, when there is one (a
	// refused connection): callers tell a passing outage from a lasting
	// misconfiguration by it. It is not part of the rendered line.
	Err error
}

// Unwrap returns the error the problem was found from (nil if none).
func (p Problem) Unwrap() error { return p.Err }

// Error renders the problem on one line.
func (p Problem) Error() string {
	if p.Fix == "" {
		return p.Field + ": " + p.Message
	}
	return p.Field + ": " + p.Message + "; fix: " + p.Fix
}

// Problems is an error made of several problems, rendered on one line.
type Problems []Problem

func (l Problems) Error() string {
	parts := make([]string, len(l))
	for i, p := range l {
		parts[i] = p.Error()
	}
	return strings.Join(parts, " | ")
}

// Unwrap exposes the problems to errors.As.
func (l Problems) Unwrap() []error {
	errs := make([]error, len(l))
	for i, p := range l {
		errs[i] = p
	}
	return errs
}

// ConnectProblems is what a source's preflight check reports when it
// cannot connect: the Problem the connection error is, or a problem of
// field "source" with err's text and fix.
func ConnectProblems(err error, fix string) []Problem {
	var p Problem
	if errors.As(err, &p) {
		return []Problem{p}
	}
	return []Problem{{Field: "source", Message: err.Error(), Fix: fix}}
}
