// Package benchstack is what the benchmarks under bench/ share: the dev server and PostgreSQL that
// `bin/devstack exec` exported (loopback only), a whole smsflow in the process on a fresh database
// (internal/harness), action executions sent as HubSpot sends them, histories, and the process's
// memory.
package benchstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"smsflow/hubspot/hubspottest"
	"smsflow/internal/harness"
	"smsflow/payloadcodec/codectest"
)

// Addresses are the Temporal server and PostgreSQL the benchmark runs against.
type Addresses struct {
	Temporal, Database string
}

// FromEnv reads TEMPORAL_ADDRESS and DATABASE_URL (set by `bin/devstack exec`) and refuses any
// host that is not this machine: a benchmark floods what it targets.
func FromEnv() (Addresses, error) {
	a := Addresses{Temporal: os.Getenv("TEMPORAL_ADDRESS"), Database: os.Getenv("DATABASE_URL")}
	if a.Temporal == "" || a.Database == "" {
		return a, errors.New("TEMPORAL_ADDRESS and DATABASE_URL must be set: run through `bin/devstack exec -- go run ./bench/...`")
	}
	host, _, err := net.SplitHostPort(a.Temporal)
	if err != nil {
		return a, fmt.Errorf("TEMPORAL_ADDRESS: %w", err)
	}
	if err := loopback(host); err != nil {
		return a, fmt.Errorf("TEMPORAL_ADDRESS: %w", err)
	}
	cfg, err := pgx.ParseConfig(a.Database)
	if err != nil {
		return a, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if !strings.HasPrefix(cfg.Host, "/") { // a Unix socket is local
		if err := loopback(cfg.Host); err != nil {
			return a, fmt.Errorf("DATABASE_URL: %w", err)
		}
	}
	return a, nil
}

func loopback(host string) error {
	ips, err := net.LookupIP(host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address: the benchmarks only run against this machine", host)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s has no address", host)
	}
	return nil
}

// Dial connects to Temporal with the harness's payload keys, so that the stack's worker decodes
// what this client sends.
func Dial(a Addresses) (client.Client, error) {
	return client.Dial(codectest.ClientOptions(client.Options{HostPort: a.Temporal, Logger: Quiet{}}))
}

// Stack is a whole smsflow on a database of its own, dropped at Close.
type Stack struct {
	*harness.Stack
	drop func()
}

// Start creates an empty database beside a.Database and starts a stack on it; o's DatabaseURL and
// TemporalAddress are filled in. poolSize, when positive, is the stack's PostgreSQL pool size
// (pool_max_conns).
func Start(ctx context.Context, tc client.Client, a Addresses, poolSize int, o harness.Options) (*Stack, error) {
	dsn, drop, err := freshDatabase(ctx, a.Database)
	if err != nil {
		return nil, err
	}
	if poolSize > 0 {
		u, err := url.Parse(dsn)
		if err != nil {
			drop()
			return nil, err
		}
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(poolSize))
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	o.DatabaseURL, o.TemporalAddress = dsn, a.Temporal
	h, err := harness.Start(ctx, tc, o)
	if err != nil {
		drop()
		return nil, err
	}
	return &Stack{Stack: h, drop: drop}, nil
}

// Close stops the stack and drops its database.
func (s *Stack) Close() {
	s.Stack.Close()
	s.drop()
}

// freshDatabase creates an empty database beside base's and a function dropping it.
func freshDatabase(ctx context.Context, base string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	name := "bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	}, nil
}

// Executor plays HubSpot executing the "Send SMS" action, once per execution (no retry, so that a
// refusal is counted rather than hidden), over kept-alive connections.
type Executor struct {
	url    string
	caller *hubspottest.Caller
}

// NewExecutor sends to s's API.
func NewExecutor(s *harness.Stack) *Executor {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	return &Executor{url: s.APIURL + "/hubspot/actions/sms", caller: &hubspottest.Caller{Secret: harness.ClientSecret,
		HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}, MaxAttempts: 1}}
}

// Execute runs the action of a portal for a contact whose properties HubSpot sends along; an
// answer other than 200 BLOCK is an error.
func (e *Executor) Execute(ctx context.Context, portalID int64, callbackID string, contactID int64, props, inputs map[string]string) error {
	resp, err := e.caller.Execute(ctx, e.url, hubspottest.Execution{CallbackID: callbackID, PortalID: portalID,
		ActionDefinitionID: 7, WorkflowID: 55, ObjectType: "CONTACT", ObjectID: contactID, Properties: props, Inputs: inputs})
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK || resp.State != "BLOCK" {
		return fmt.Errorf("action answered %d %s %v", resp.Status, resp.State, resp.Outputs)
	}
	return nil
}

// History returns a workflow's events.
func History(ctx context.Context, tc client.Client, workflowID string) ([]*historypb.HistoryEvent, error) {
	it := tc.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}

// Memory is the process's resident memory, in bytes: now and its peak so far.
type Memory struct {
	RSS, Peak int64
}

// ReadMemory reads VmRSS and VmHWM of /proc/self/status (Linux).
func ReadMemory() (Memory, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/self/status %s: %w", name, err)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	return m, sc.Err()
}

// Quiet is a Temporal SDK logger that says nothing.
type Quiet struct{}

func (Quiet) Debug(string, ...any) {}
func (Quiet) Info(string, ...any)  {}
func (Quiet) Warn(string, ...any)  {}
func (Quiet) Error(string, ...any) {}
