package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/openapi"
	"github.com/vero-oms/omsd/server/contractcheck"
)

// exitError carries an exit code other than 1 up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// runContract is `omsd contract check NEW.json`: exit 0 when nothing breaks,
// 1 when something does (or an overlay target no longer matches), 2 when the
// input cannot be checked.
func runContract(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return &exitError{2, errors.New("contract: want check NEW.json")}
	}
	fs := flag.NewFlagSet("omsd contract check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omsd contract check [--overlay FILE] NEW.json")
		fs.PrintDefaults()
	}
	overlayFile := fs.String("overlay", "", "overlay to apply to NEW.json (default: the overlay this binary was generated with)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, errors.New("contract check: want exactly one NEW.json")}
	}
	name := fs.Arg(0)
	upstream, err := os.ReadFile(name)
	if err != nil {
		return &exitError{2, err}
	}
	ov := openapi.Overlay
	if *overlayFile != "" {
		if ov, err = os.ReadFile(*overlayFile); err != nil {
			return &exitError{2, err}
		}
	}
	current, err := gen.GetSpec()
	if err != nil {
		return err
	}
	r, err := contractcheck.Check(current, upstream, name, ov)
	if err != nil {
		if errors.Is(err, contractcheck.ErrUnusable) {
			return &exitError{2, err}
		}
		return err
	}
	printReport(stdout, name, r)
	if r.Fails() {
		return &exitError{1, errors.New("contract check: the new contract breaks clients or the overlay")}
	}
	return nil
}

func printReport(w io.Writer, name string, r *contractcheck.Report) {
	fmt.Fprintf(w, "%s + overlay compared with the contract this omsd serves: %d operations -> %d\n", name, r.Current, r.New)
	if len(r.Overlay) > 0 {
		fmt.Fprintf(w, "\noverlay targets that no longer match (%d): `make generate` fails until overlay.yaml is updated\n", len(r.Overlay))
		for _, p := range r.Overlay {
			fmt.Fprintln(w, "  "+p.String())
		}
	}
	section := func(title string, n int) { fmt.Fprintf(w, "\n%s (%d)\n", title, n) }
	section("breaking changes", len(r.Breaking))
	for _, c := range r.Breaking {
		fmt.Fprintln(w, "  "+c.String())
	}
	if len(r.Warnings) > 0 {
		section("warnings (not failing)", len(r.Warnings))
		for _, c := range r.Warnings {
			fmt.Fprintln(w, "  "+c.String())
		}
	}
	section("operations added: handlers to write", len(r.Added))
	for _, o := range r.Added {
		fmt.Fprintln(w, "  + "+o.String())
	}
	section("operations removed: handlers to delete", len(r.Removed))
	for _, o := range r.Removed {
		fmt.Fprintln(w, "  - "+o.String())
	}
	if r.Fails() {
		fmt.Fprintln(w, "\nresult: BREAKING")
	} else {
		fmt.Fprintln(w, "\nresult: compatible")
	}
}
