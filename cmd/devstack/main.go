// Command devstack runs smsflow on a machine without Docker.
//
//	devstack run            PostgreSQL, the Temporal dev server (Web UI), the API, the worker and
//	                        the simulators, until Ctrl-C
//	devstack exec -- CMD    PostgreSQL and the Temporal dev server for CMD (the tests), exported as
//	                        DATABASE_URL and TEMPORAL_ADDRESS, stopped when CMD ends
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"smsflow/internal/devstack"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var code int
	switch os.Args[1] {
	case "run":
		code = devstack.Run(ctx, os.Stdout)
	case "exec":
		args := os.Args[2:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if len(args) == 0 {
			usage()
		}
		code = devstack.Exec(ctx, os.Stdout, args)
	default:
		usage()
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: devstack run | devstack exec -- command [args...]")
	os.Exit(2)
}
