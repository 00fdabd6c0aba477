package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/traffic"
)

// runValidate is `omsd validate FILE...`: every recorded request (and its
// response, when recorded) is checked against the contract with the
// server's own validation code. Exit 0 clean, 1 on any violation, 2 when a
// file cannot be read as a HAR or JSON lines.
func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("omsd validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omsd validate [--ignore-unmatched] [--max-body-bytes N] FILE...")
		fmt.Fprintln(stderr, "FILE is a HAR 1.2 file or JSON lines {method, path, headers, body, status, response_body}.")
		fs.PrintDefaults()
	}
	ignoreUnmatched := fs.Bool("ignore-unmatched", false, "skip requests no contract operation matches (other hosts, static files) instead of flagging them")
	maxBody := fs.Int64("max-body-bytes", 64<<10, "the server's body cap (OMS_MAX_BODY_BYTES)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &exitError{2, errors.New("validate: name at least one file")}
	}
	files, err := readTraffic(fs.Args())
	if err != nil {
		return err
	}
	v, err := server.NewValidator(*maxBody)
	if err != nil {
		return err
	}
	r := validation{perOp: map[string]*tally{}, out: stdout, ignoreUnmatched: *ignoreUnmatched, named: len(files) > 1}
	for _, f := range files {
		r.check(ctx, v, f)
	}
	r.summary()
	if r.total == 0 {
		return &exitError{2, errors.New("validate: no exchange to check")}
	}
	if r.bad > 0 {
		return &exitError{1, fmt.Errorf("validate: %d of %d exchanges violate the contract", r.bad, r.total)}
	}
	return nil
}

// trafficFile is one file of recorded exchanges.
type trafficFile struct {
	name    string
	entries []traffic.Entry
}

// readTraffic reads every file (exit 2 on the first that cannot be read).
func readTraffic(names []string) ([]trafficFile, error) {
	var files []trafficFile
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return nil, &exitError{2, err}
		}
		entries, err := traffic.Read(f)
		_ = f.Close()
		if err != nil {
			return nil, &exitError{2, fmt.Errorf("%s: %w", name, err)}
		}
		files = append(files, trafficFile{name, entries})
	}
	return files, nil
}

type tally struct{ checked, violations int }

// validation checks exchanges, prints each violation and tallies them per
// operation.
type validation struct {
	perOp                  map[string]*tally
	total, bad, skipped    int
	out                    io.Writer
	ignoreUnmatched, named bool
}

func (r *validation) check(ctx context.Context, v *server.Validator, f trafficFile) {
	for i, e := range f.entries {
		verdict := v.Check(ctx, server.Exchange{Method: e.Method, Target: e.Target, Header: e.Header, Body: e.Body,
			Status: e.Status, ResponseHeader: e.ResponseHeader, ResponseBody: e.ResponseBody})
		if verdict.OperationID == "" && r.ignoreUnmatched {
			r.skipped++
			continue
		}
		name, key := verdict.Route, "(no operation)"
		if verdict.OperationID != "" {
			name += " (" + verdict.OperationID + ")"
			key = name
		}
		t := r.perOp[key]
		if t == nil {
			t = &tally{}
			r.perOp[key] = t
		}
		t.checked++
		r.total++
		if len(verdict.Problems) > 0 {
			t.violations++
			r.bad++
		}
		where := fmt.Sprintf("entry %d", i+1)
		if r.named {
			where = f.name + ": " + where
		}
		for _, p := range verdict.Problems {
			fmt.Fprintf(r.out, "%s: %s: %s\n", where, name, p)
		}
	}
}

// summary prints the table per operation and the totals.
func (r *validation) summary() {
	keys := make([]string, 0, len(r.perOp))
	for k := range r.perOp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if r.bad > 0 {
		fmt.Fprintln(r.out)
	}
	tw := tabwriter.NewWriter(r.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tCHECKED\tVIOLATIONS")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, r.perOp[k].checked, r.perOp[k].violations)
	}
	_ = tw.Flush()
	fmt.Fprintf(r.out, "%d exchanges checked, %d with violations", r.total, r.bad)
	if r.skipped > 0 {
		fmt.Fprintf(r.out, ", %d skipped (no operation)", r.skipped)
	}
	fmt.Fprintln(r.out, "; bearer tokens are not verified, only required")
}
