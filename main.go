// Command omsd serves the Vero OMS REST API. See README.md.
package main

import (
	"context"
	"os"

	"github.com/vero-oms/omsd/server/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
