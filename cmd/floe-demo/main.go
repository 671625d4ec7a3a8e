package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/floe-cdc/floe/deploy/testdb"
)

func main() {
	var o options
	fs := flag.NewFlagSet("floe-demo", flag.ExitOnError)
	fs.StringVar(&o.floe, "floe", "bin/floe", "the floe binary to run (make build)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long the workload runs")
	fs.BoolVar(&o.keep, "keep", false, "keep the demo directory (config, warehouse, catalog, log)")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "floe-demo: unexpected argument %q (see -help)\n", fs.Arg(0))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floe-demo:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	floe     string
	duration time.Duration
	keep     bool
}

// The demo source: database shop owned by user floe on the throwaway
// cluster. The password reaches floe through the environment, as a
// deployment's would.
const (
	shopDB       = "shop"
	shopUser     = "floe"
	shopPassword = "floe-demo"
	passwordEnv  = "FLOE_DEMO_PASSWORD"
	pipeline     = "demo"
)

// demo is one run of the demo: its directory, the floe binary and where
// progress is reported.
type demo struct {
	out   io.Writer
	start time.Time
	bin   string // absolute path of floe
	dir   string
	cfg   string // dir/floe.yaml
	log   string // dir/floe.log: floe's log lines, of every verb
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// run is the whole demo: every process it starts is stopped before it
// returns, and the directory is removed unless o.keep.
func run(ctx context.Context, out io.Writer, o options) (err error) {
	d := &demo{out: out, start: time.Now()}
	if d.bin, err = floeBinary(o.floe); err != nil {
		return err
	}
	if d.dir, err = os.MkdirTemp("", "floe-demo-"); err != nil {
		return err
	}
	if o.keep {
		d.say("demo directory: %s", d.dir)
	} else {
		defer os.RemoveAll(d.dir)
	}
	d.cfg, d.log = filepath.Join(d.dir, "floe.yaml"), filepath.Join(d.dir, "floe.log")
	pg, err := testdb.StartPostgres(ctx, testdb.PostgresOptions{})
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	defer func() {
		if serr := pg.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	dsn, err := createShop(ctx, pg)
	if err != nil {
		return err
	}
	d.say("PostgreSQL started on 127.0.0.1:%d with a shop schema (2000 customers, 5000 orders, 15000 line items)", pg.Port)
	if err := d.writeConfig(pg.Port); err != nil {
		return err
	}
	if err := d.stream(ctx, dsn, o.duration); err != nil {
		return err
	}
	return d.inspect(ctx)
}

// floeBinary returns the absolute path of the floe binary at path.
func floeBinary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("no floe binary at %s: run make build, or name one with -floe", path)
	}
	return abs, nil
}

// createShop creates the shop database, its tables and rows, owned by
// the demo user, and returns the user's DSN.
func createShop(ctx context.Context, pg *testdb.Postgres) (string, error) {
	dsn, err := pg.CreateDatabase(ctx, shopDB, shopUser, shopPassword)
	if err != nil {
		return "", err
	}
	if err := pg.Exec(ctx, shopDB, shopSchema); err != nil {
		return "", fmt.Errorf("create demo schema: %w", err)
	}
	for _, t := range shopTables {
		if err := pg.Exec(ctx, shopDB, "ALTER TABLE "+t+" OWNER TO "+shopUser); err != nil {
			return "", err
		}
	}
	return dsn, nil
}

// writeConfig writes the pipeline's configuration: the shop's public
// tables into a local warehouse with an embedded SQLite catalog.
func (d *demo) writeConfig(port int) error {
	cfg := fmt.Sprintf(`pipeline:
  name: %s
  checkpoint-interval: 5s
state:
  dir: %s
source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: %s
  password: ${%s}
  database: %s
  tables: public\..*
sink:
  type: iceberg
  catalog:
    type: sql
    uri: sqlite://%s
  warehouse: %s
  namespace: shop
log:
  level: info
`, pipeline, filepath.Join(d.dir, "state"), port, shopUser, passwordEnv, shopDB,
		filepath.Join(d.dir, "catalog.db"), filepath.Join(d.dir, "warehouse"))
	return os.WriteFile(d.cfg, []byte(cfg), 0o600)
}

// floeCmd is the floe command for args, run in the demo directory with
// the source password in its environment.
func (d *demo) floeCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(d.bin, args...)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), passwordEnv+"="+shopPassword)
	return cmd
}

// stream runs `floe run` beside the shop workload for duration, waits
// until floe has committed every change the workload made, and stops it
// with SIGTERM (the final checkpoint commits; exit status 0).
func (d *demo) stream(ctx context.Context, dsn string, duration time.Duration) error {
	floeRun, err := testdb.StartLogged(d.floeCmd("run", "--config", d.cfg), d.log)
	if err != nil {
		return err
	}
	defer floeRun.Kill() // a no-op once it has stopped
	d.say("floe run started: snapshot, then streaming (log: %s)", d.log)
	workCtx, stopWork := context.WithTimeout(ctx, duration)
	defer stopWork()
	stats, err := shopWorkload(workCtx, dsn)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("demo workload: %w", err)
	}
	d.say("workload stopped: %d transactions (%d inserts, %d updates, %d deletes)", stats.txns, stats.inserts, stats.updates, stats.deletes)
	if err := testdb.WaitSlotCaughtUp(ctx, dsn, "floe_"+pipeline, 90*time.Second, floeRun); err != nil {
		return fmt.Errorf("%w; log: %s", err, d.log)
	}
	if err := floeRun.Stop(2 * time.Minute); err != nil {
		return fmt.Errorf("floe run %w; log: %s", err, d.log)
	}
	d.say("floe caught up with the source and stopped cleanly")
	return nil
}

// inspect runs the verbs a user runs next: verify, status, compact and
// verify again, then prints a few rows read back from Iceberg.
func (d *demo) inspect(ctx context.Context) error {
	d.say("floe verify:")
	if err := d.verb("verify"); err != nil {
		return err
	}
	d.say("floe status:")
	if err := d.verb("status"); err != nil {
		return err
	}
	d.say("floe compact (applies the equality deletes into the data files; floe run does this every 30m):")
	if err := d.verb("compact"); err != nil {
		return err
	}
	d.say("floe verify after compaction:")
	verr := d.verb("verify")
	if err := printSample(ctx, d.out, d.dir); err != nil {
		return err
	}
	d.say("done")
	return verr
}

// verb runs `floe <verb> --config` to its end: its output goes to the
// demo's output, its log lines to the log file (and with a failure, to
// the error).
func (d *demo) verb(verb string) error {
	logFile, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	var stderr strings.Builder
	cmd := d.floeCmd(verb, "--config", d.cfg)
	cmd.Stdout, cmd.Stderr = d.out, io.MultiWriter(logFile, &stderr)
	if err := cmd.Run(); err != nil {
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		return fmt.Errorf("floe %s: %w; its last log lines:\n%s", verb, err, strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	return nil
}
