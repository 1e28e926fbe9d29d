// Command smsflowctl does an operator's chores on the smsflow database, with the configuration
// the services read (DATABASE_URL, TOKEN_ENCRYPTION_KEY / TOKEN_ENCRYPTION_KEYS):
//
//	smsflowctl reencrypt-tokens                                   seal every stored token with the newest key
//	smsflowctl senders list -portal 62515                         the portal's senders
//	smsflowctl senders add -portal 62515 [-default] ACME +3361…   let the portal send from these
//	smsflowctl senders remove -portal 62515 ACME                  stop it
//	smsflowctl senders rate -portal 62515 -rate 2.5 +3361…        its own messages a second (0: its class's)
//	smsflowctl erase -portal 62515 [-country FR] +3361…           erase a number's data (privacy request)
//	smsflowctl disconnect -portal 62515                           disconnect a portal, stop its messages
//
// erase and disconnect also reach Temporal (TEMPORAL_ADDRESS, …) to cancel running workflows;
// erase needs PHONE_HASH_KEY: the number's suppressions stay as its keyed hash.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"go.temporal.io/sdk/client"

	"smsflow/config"
	"smsflow/phone"
	"smsflow/retention"
	"smsflow/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "smsflowctl:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  smsflowctl reencrypt-tokens
  smsflowctl senders list -portal ID
  smsflowctl senders add -portal ID [-default] [-source manual|carrier] SENDER...
  smsflowctl senders remove -portal ID SENDER...
  smsflowctl senders rate -portal ID -rate PER_SECOND SENDER...
  smsflowctl erase -portal ID [-country CC] PHONE
  smsflowctl disconnect -portal ID`

func run(ctx context.Context, args []string, out io.Writer, lookup func(string) (string, bool)) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cfg, err := config.FromLookup(lookup)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckMigrated(ctx); err != nil {
		return fmt.Errorf("%w (start the API or the worker once: they migrate the database)", err)
	}
	switch args[0] {
	case "reencrypt-tokens":
		return reencrypt(ctx, db, cfg, out)
	case "senders":
		if len(args) < 2 {
			return errors.New(usage)
		}
		return senders(ctx, db, args[1], args[2:], out)
	case "erase", "disconnect":
		return stop(ctx, db, cfg, args[0], args[1:], out)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// reencrypt seals every stored token with the newest key of the keyring.
func reencrypt(ctx context.Context, db *store.Store, cfg config.Config, out io.Writer) error {
	tokens, err := store.NewTokens(db, cfg.HubSpot.TokenKeyring())
	if err != nil {
		return err
	}
	n, err := tokens.Reencrypt(ctx)
	if err != nil {
		return fmt.Errorf("after %d tokens: %w", n, err)
	}
	counts, err := tokens.CountTokensByKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "re-encrypted %d tokens with key %s\n", n, tokens.CurrentKeyID())
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(out, "key %s: %d tokens\n", id, counts[id])
	}
	return nil
}

func senders(ctx context.Context, db *store.Store, verb string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("senders "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	portal := fs.Int64("portal", 0, "HubSpot portal id")
	asDefault := fs.Bool("default", false, "make the (first) sender the portal's default")
	source := fs.String("source", store.SenderManual, "where the sender comes from: manual or carrier")
	rate := fs.Float64("rate", -1, "messages a second the sender may send (0: its class's rate)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if *portal <= 0 {
		return errors.New("-portal is required\n" + usage)
	}
	switch verb {
	case "list":
		list, err := db.Senders(ctx, *portal)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SENDER\tDEFAULT\tSOURCE\tSINCE\tRATE")
		for _, s := range list {
			r := "class"
			if s.MessagesPerSecond != nil {
				r = fmt.Sprintf("%g/s", *s.MessagesPerSecond)
			}
			fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\n", s.Sender, s.Default, s.Source, s.CreatedAt.UTC().Format("2006-01-02"), r)
		}
		return w.Flush()
	case "add":
		if fs.NArg() == 0 {
			return errors.New("no sender given\n" + usage)
		}
		if *source != store.SenderManual && *source != store.SenderCarrier {
			return fmt.Errorf("-source %q: manual or carrier", *source)
		}
		for i, s := range fs.Args() {
			if err := db.AddSender(ctx, *portal, s, *asDefault && i == 0, *source); err != nil {
				return err
			}
			fmt.Fprintf(out, "portal %d may send from %s\n", *portal, strings.TrimSpace(s))
		}
		return nil
	case "rate":
		if *rate < 0 || fs.NArg() == 0 {
			return errors.New("-rate and a sender are required\n" + usage)
		}
		for _, s := range fs.Args() {
			if err := db.SetSenderRate(ctx, *portal, s, *rate); err != nil {
				return err
			}
			fmt.Fprintf(out, "portal %d sends from %s at %g a second (0: its class's rate)\n", *portal, strings.TrimSpace(s), *rate)
		}
		return nil
	case "remove":
		for _, s := range fs.Args() {
			ok, err := db.RemoveSender(ctx, *portal, s)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("portal %d has no sender %s", *portal, s)
			}
			fmt.Fprintf(out, "portal %d may no longer send from %s\n", *portal, s)
		}
		return nil
	}
	return fmt.Errorf("unknown senders command %q\n%s", verb, usage)
}

// stop erases a number of a portal, or disconnects a portal; both cancel the running workflows
// concerned.
func stop(ctx context.Context, db *store.Store, cfg config.Config, verb string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	portal := fs.Int64("portal", 0, "HubSpot portal id")
	country := fs.String("country", "", "region of a number written without its country code")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if *portal <= 0 {
		return errors.New("-portal is required\n" + usage)
	}
	topts, err := cfg.TemporalClientOptions()
	if err != nil {
		return err
	}
	tc, err := client.DialContext(ctx, topts)
	if err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	defer tc.Close()
	if verb == "disconnect" {
		if err := db.DisconnectPortal(ctx, *portal); err != nil {
			return err
		}
		n, err := retention.PortalStopper{Temporal: tc, Namespace: cfg.TemporalNamespace, TaskQueue: cfg.TemporalTaskQueue}.StopPortal(ctx, *portal)
		fmt.Fprintf(out, "portal %d disconnected; %d running workflows cancelled\n", *portal, n)
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("one phone number\n" + usage)
	}
	num, err := phone.Parse(fs.Arg(0), *country)
	if err != nil {
		return err
	}
	if cfg.PhoneHashKey == "" {
		return errors.New("PHONE_HASH_KEY must be set: the number's suppressions stay as its keyed hash")
	}
	db.PhoneHashKey = []byte(cfg.PhoneHashKey)
	eraser := &retention.Eraser{Store: db, Temporal: tc, Namespace: cfg.TemporalNamespace, TaskQueue: cfg.TemporalTaskQueue, PhoneHashKey: db.PhoneHashKey}
	done, err := eraser.EraseNumber(ctx, *portal, num.E164)
	fmt.Fprintf(out, "erased %d messages of the number in portal %d; %d running workflows cancelled; %d suppressions kept as a hash\n",
		done.Messages, *portal, done.WorkflowsCancelled, done.HashedSuppressions)
	return err
}
