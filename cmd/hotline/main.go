// Command hotline is the Hotline contact-center server.
//
//	hotline serve [-config hotline.yaml]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hotline:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return errors.New("usage: hotline serve [-config hotline.yaml]")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: built-in defaults)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	log := cfg.Log.Logger(os.Stderr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	// The server's own context outlives the signal: Shutdown, not the
	// signal, decides when listeners close and calls end.
	life, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(life); err != nil {
		return err
	}
	log.Info("hotline ready", "config", *path)
	<-ctx.Done()
	log.Info("shutting down: refusing new calls, draining calls in progress", "drain", cfg.SIP.DrainTime)
	return srv.Shutdown(context.Background())
}
