package main

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
)

// transient reports whether err is a lost or refused connection, after
// which `floe run` starts again from the committed positions instead of
// exiting. Everything else — bad values, schema changes, a missing slot,
// Iceberg errors — ends the run, so nothing is retried forever.
func transient(err error) bool {
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, capture.ErrLayoutChanged):
		// A table was altered while its snapshot ran: the next attempt
		// discovers the new layout, evolves the Iceberg table and reads
		// the chunks not yet committed again.
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-57P03: the server shuts down or restarts.
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	case errors.As(err, &netErr):
		return true
	}
	return pgconn.SafeToRetry(err)
}
