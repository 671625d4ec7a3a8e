package capture

import (
	"errors"

	"github.com/floe-cdc/floe/schema/problem"
)

// Problem is one thing wrong with a source or its configuration, as a
// source's Config.Validate, its preflight check (Checker) and its setup
// errors report it: the field it concerns, what is wrong, how to fix it,
// and the error it was found from (see package problem).
type Problem = problem.Problem

// Problems is an error made of several problems, rendered on one line.
type Problems = problem.List

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
