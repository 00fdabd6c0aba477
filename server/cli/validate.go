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
	type file struct {
		name    string
		entries []traffic.Entry
	}
	var files []file
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return &exitError{2, err}
		}
		entries, err := traffic.Read(f)
		_ = f.Close()
		if err != nil {
			return &exitError{2, fmt.Errorf("%s: %w", name, err)}
		}
		files = append(files, file{name, entries})
	}
	v, err := server.NewValidator(*maxBody)
	if err != nil {
		return err
	}
	type tally struct{ checked, violations int }
	perOp := map[string]*tally{}
	total, bad, skipped := 0, 0, 0
	for _, f := range files {
		for i, e := range f.entries {
			verdict := v.Check(ctx, server.Exchange{Method: e.Method, Target: e.Target, Header: e.Header, Body: e.Body,
				Status: e.Status, ResponseHeader: e.ResponseHeader, ResponseBody: e.ResponseBody})
			if verdict.OperationID == "" && *ignoreUnmatched {
				skipped++
				continue
			}
			key := verdict.Route
			if verdict.OperationID != "" {
				key += " (" + verdict.OperationID + ")"
			} else {
				key = "(no operation)"
			}
			t := perOp[key]
			if t == nil {
				t = &tally{}
				perOp[key] = t
			}
			t.checked++
			total++
			if len(verdict.Problems) > 0 {
				t.violations++
				bad++
			}
			where := fmt.Sprintf("entry %d", i+1)
			if len(files) > 1 {
				where = f.name + ": " + where
			}
			for _, p := range verdict.Problems {
				name := verdict.Route
				if verdict.OperationID != "" {
					name += " (" + verdict.OperationID + ")"
				}
				fmt.Fprintf(stdout, "%s: %s: %s\n", where, name, p)
			}
		}
	}
	keys := make([]string, 0, len(perOp))
	for k := range perOp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if bad > 0 {
		fmt.Fprintln(stdout)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tCHECKED\tVIOLATIONS")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, perOp[k].checked, perOp[k].violations)
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "%d exchanges checked, %d with violations", total, bad)
	if skipped > 0 {
		fmt.Fprintf(stdout, ", %d skipped (no operation)", skipped)
	}
	fmt.Fprintln(stdout, "; bearer tokens are not verified, only required")
	if total == 0 {
		return &exitError{2, errors.New("validate: no exchange to check")}
	}
	if bad > 0 {
		return &exitError{1, fmt.Errorf("validate: %d of %d exchanges violate the contract", bad, total)}
	}
	return nil
}
