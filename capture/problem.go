package capture

import (
	"errors"
	"fmt"
	"net"

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

// UnreachableProblem reports a connection attempt that failed to reach
// the server at all (a DNS or network error in err's chain) as the
// Problem of source.hostname, naming the server kind (server, e.g.
// "PostgreSQL") and addr; ok is false for any other error.
func UnreachableProblem(server, addr string, err error) (p Problem, ok bool) {
	var (
		dnsErr *net.DNSError
		opErr  *net.OpError
		reason error
	)
	switch {
	case errors.As(err, &dnsErr):
		reason = dnsErr
	case errors.As(err, &opErr):
		reason = opErr
	default:
		return Problem{}, false
	}
	return Problem{Field: "source.hostname",
		Message: fmt.Sprintf("cannot reach %s at %s: %v", server, addr, reason),
		Fix:     "check source.hostname and source.port and that the server accepts TCP connections", Err: err}, true
}
