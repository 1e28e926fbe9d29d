// Package devstack starts the real services smsflow needs on a developer's machine and in tests:
// a throwaway PostgreSQL cluster (initdb + pg_ctl) and the Temporal CLI dev server.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres says how to get the binaries when none are installed.
var ErrNoPostgres = errors.New("devstack: no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin; " +
	"install them with `sudo apt-get install -y postgresql` (Debian/Ubuntu) or `brew install postgresql@15` (macOS), or set DATABASE_URL to an existing server")

// Postgres is a local cluster owned by this process.
type Postgres struct {
	Dir  string // data directory
	Port int
	URL  string // connection string of the smsflow database
	bin  string
	cred *syscall.Credential // set when running as root: PostgreSQL refuses to run as root
}

// FindPostgresBin returns the directory holding initdb and pg_ctl.
func FindPostgresBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest major first
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// StartPostgres starts (creating it when dir is empty) a cluster listening on 127.0.0.1:port
// (port 0 picks a free one) with a database named smsflow, trust authentication, no Unix socket.
func StartPostgres(ctx context.Context, dir string, port int) (*Postgres, error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: dir, Port: port, bin: bin,
		URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/smsflow?sslmode=disable", port)}
	if os.Geteuid() == 0 {
		if p.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if p.cred != nil {
			if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
				return nil, err
			}
		}
		if err := p.run(ctx, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
			return nil, err
		}
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	if err := p.createDatabase(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// Start starts the server of an existing cluster and waits until it accepts connections.
func (p *Postgres) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=200", p.Port)
	if err := p.run(ctx, "pg_ctl", "-D", p.Dir, "-o", opts, "-l", filepath.Join(p.Dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return err
	}
	return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", p.Port), 30*time.Second)
}

// Stop stops the server (fast mode: open sessions are cut).
func (p *Postgres) Stop() error {
	return p.run(context.Background(), "pg_ctl", "-D", p.Dir, "-m", "fast", "-w", "stop")
}

// AdminURL is the connection string of the maintenance database.
func (p *Postgres) AdminURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

func (p *Postgres) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.AdminURL())
	if err != nil {
		return fmt.Errorf("devstack: connect to new cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'smsflow')").Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE smsflow")
	}
	return err
}

func (p *Postgres) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("devstack: %s %v: %w\n%s", name, args, err, out)
	}
	return nil
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("devstack: running as root, and PostgreSQL refuses root: need a 'postgres' user (created by `apt-get install postgresql`): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// FreePort asks the kernel for a free TCP port on loopback.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devstack: %s not listening after %s: %w", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
