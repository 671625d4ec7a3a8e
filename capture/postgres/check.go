package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
)

// Check connects and reports every problem that would stop capture, each
// with the configuration field it concerns and the fix: connection and
// authentication, wal_level, the role's REPLICATION attribute, free
// replication slots and WAL senders, table patterns, keys and replica
// identities. It returns nil when all is well.
func (s *Source) Check(ctx context.Context) []Problem {
	conn, err := s.connect(ctx)
	if err != nil {
		return capture.ConnectProblems(err, "check source.hostname, source.port and that PostgreSQL is running")
	}
	defer conn.Close(context.Background())
	var problems []Problem
	fail := func(what string, err error) {
		problems = append(problems, Problem{Field: "source", Message: fmt.Sprintf("%s: %v", what, oneLine(err)), Fix: "check that the user may read the system catalogs"})
	}

	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		fail("read wal_level", err)
	} else if walLevel != "logical" {
		problems = append(problems, Problem{Field: "source",
			Message: fmt.Sprintf("wal_level is %q on %s, logical replication needs \"logical\"", walLevel, s.addr()),
			Fix:     "run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL"})
	}

	var super, repl bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&super, &repl); err != nil {
		fail("read role attributes", err)
	} else if !super && !repl {
		problems = append(problems, Problem{Field: "source.username",
			Message: fmt.Sprintf("user %q has neither the REPLICATION attribute nor superuser", s.cfg.User),
			Fix:     fmt.Sprintf("run ALTER ROLE %s REPLICATION", pgx.Identifier{s.cfg.User}.Sanitize())})
	}

	var maxSlots, usedSlots, maxSenders, usedSenders int
	var haveSlot bool
	err = conn.QueryRow(ctx, `SELECT current_setting('max_replication_slots')::int,
			(SELECT count(*) FROM pg_replication_slots)::int,
			EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
			current_setting('max_wal_senders')::int,
			(SELECT count(*) FROM pg_stat_replication)::int`, s.cfg.SlotName).
		Scan(&maxSlots, &usedSlots, &haveSlot, &maxSenders, &usedSenders)
	if err != nil {
		fail("read replication limits", err)
	} else {
		if !haveSlot && usedSlots >= maxSlots {
			problems = append(problems, Problem{Field: "source",
				Message: fmt.Sprintf("all %d replication slots are in use and slot %q does not exist yet", maxSlots, s.cfg.SlotName),
				Fix:     "drop an unused slot with SELECT pg_drop_replication_slot('name'), or raise max_replication_slots and restart PostgreSQL"})
		}
		if usedSenders >= maxSenders {
			problems = append(problems, Problem{Field: "source",
				Message: fmt.Sprintf("all %d WAL senders (max_wal_senders) are busy", maxSenders),
				Fix:     "raise max_wal_senders and restart PostgreSQL, or stop an idle replication client"})
		}
	}

	tables, tp, err := s.discover(ctx, conn)
	if err != nil {
		fail("discover tables", err)
	}
	problems = append(problems, tp...)
	if len(tp) == 0 && len(tables) > 0 {
		problems = append(problems, identityProblems(tables)...)
		problems = append(problems, s.checkPublicationRights(ctx, conn, tables)...)
	}
	return problems
}

// checkPublicationRights reports when Start could not create or set the
// publication: the user must own every captured table (and may create in
// the database) unless the publication already holds exactly those tables.
func (s *Source) checkPublicationRights(ctx context.Context, conn *pgx.Conn, tables []*table) []Problem {
	oids := make([]uint32, len(tables))
	for i, t := range tables {
		oids[i] = t.oid
	}
	var exists, exact, canCreate bool
	var notOwned []string
	err := conn.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1),
		       coalesce((SELECT array_agg(r.prrelid ORDER BY r.prrelid) FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = $1)
		                = (SELECT array_agg(o ORDER BY o) FROM unnest($2::oid[]) o), false),
		       has_database_privilege(current_database(), 'CREATE'),
		       coalesce((SELECT array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY 1) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($2::oid[]) AND NOT pg_has_role(c.relowner, 'USAGE')), '{}')`,
		s.cfg.PublicationName, oids).Scan(&exists, &exact, &canCreate, &notOwned)
	if err != nil {
		return []Problem{{Field: "source", Message: fmt.Sprintf("read publication rights: %v", oneLine(err)), Fix: "check that the user may read the system catalogs"}}
	}
	if exact {
		return nil
	}
	var out []Problem
	if len(notOwned) > 0 {
		out = append(out, Problem{Field: "source.username",
			Message: fmt.Sprintf("user %q does not own %s, so it cannot put them in publication %q", s.cfg.User, strings.Join(notOwned, ", "), s.cfg.PublicationName),
			Fix:     "make the user own the tables, or have their owner run CREATE PUBLICATION for exactly the captured tables beforehand"})
	}
	if !exists && !canCreate {
		out = append(out, Problem{Field: "source.username",
			Message: fmt.Sprintf("user %q may not create publication %q in database %q", s.cfg.User, s.cfg.PublicationName, s.cfg.Database),
			Fix:     fmt.Sprintf("run GRANT CREATE ON DATABASE %s TO %s, or create the publication beforehand", pgx.Identifier{s.cfg.Database}.Sanitize(), pgx.Identifier{s.cfg.User}.Sanitize())})
	}
	return out
}

// CheckExclusive reports another consumer streaming from the pipeline's
// replication slot: a slot is read by one walsender at a time, so floe
// run would fail to start (or, if the other consumer is an earlier floe
// run of this pipeline, the two would fight over it). floe check calls
// it; it changes nothing.
func (s *Source) CheckExclusive(ctx context.Context) []Problem {
	conn, err := s.connect(ctx)
	if err != nil {
		return capture.ConnectProblems(err, "check source.hostname, source.port and that PostgreSQL is running")
	}
	defer conn.Close(context.Background())
	var (
		active      bool
		pid         *int32
		app, client *string
		since       *time.Time
	)
	err = conn.QueryRow(ctx, `SELECT s.active, s.active_pid, r.application_name, r.client_addr::text, r.backend_start
		FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
		WHERE s.slot_name = $1`, s.cfg.SlotName).Scan(&active, &pid, &app, &client, &since)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil // floe run creates it
	case err != nil:
		return []Problem{{Field: "source.slot.name", Message: fmt.Sprintf("read replication slot %q: %v", s.cfg.SlotName, oneLine(err)),
			Fix: "check that the user may read pg_replication_slots"}}
	case !active:
		return nil
	}
	who := "another consumer"
	if pid != nil {
		who += fmt.Sprintf(" (walsender PID %d", *pid)
		if app != nil && *app != "" {
			who += fmt.Sprintf(", application %q", *app)
		}
		if client != nil && *client != "" {
			who += ", client " + *client
		}
		if since != nil {
			who += ", connected since " + since.UTC().Format(time.RFC3339)
		}
		who += ")"
	}
	return []Problem{{Field: "source.slot.name",
		Message: fmt.Sprintf("replication slot %q is in use by %s; a slot has one reader at a time, so floe run cannot stream from it", s.cfg.SlotName, who),
		Fix:     "stop the other reader (another floe run of this pipeline?), or give this pipeline its own source.slot.name"}}
}
