// Package pgtest runs a throwaway PostgreSQL server for tests: a new cluster
// in a temporary directory, listening on 127.0.0.1 on a free port, stopped
// and removed when the test ends.
//
// It needs the server binaries (initdb, postgres): Debian's postgresql
// package, which scripts/setup.sh installs. Without them Start fails the
// test with a message saying so, except under -short, where it skips: the
// tests against PostgreSQL are part of the suite, not an option.
//
// initdb refuses to run as root; as root the cluster belongs to the
// postgres system user (nobody when there is none). The server gets
// SIGKILL if the test process dies, so a crashed test run leaves no server
// behind.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// EnvBinDir names an environment variable that, when set, is the directory
// holding initdb and postgres, instead of the newest
// /usr/lib/postgresql/<version>/bin or PATH.
const EnvBinDir = "HOTLINE_PG_BINDIR"

// Config tunes the server.
type Config struct {
	// Durable keeps fsync and synchronous commit on, as in production: for
	// benchmarks whose figures should mean something. Tests leave it off,
	// which makes every commit cheaper and changes no behaviour.
	Durable bool
}

// Server is a running throwaway cluster.
type Server struct {
	dir   string
	port  int
	cmd   *exec.Cmd
	exit  chan error // the server's exit status, once
	admin *sql.DB
	n     atomic.Int64
}

// New starts a server and returns the connection string of a new, empty
// database on it. The server stops when tb ends.
func New(tb testing.TB) string {
	tb.Helper()
	return Start(tb).NewDatabase(tb)
}

// Start starts a server with test settings; it stops when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Config{})
}

// StartWith starts a server configured by cfg; it stops when tb ends.
func StartWith(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	bin, err := BinDir()
	if err != nil {
		if testing.Short() {
			tb.Skipf("pgtest: %v (skipped under -short)", err)
		}
		tb.Fatalf("pgtest: %v", err)
	}
	s, err := start(bin, cfg)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// BinDir finds the directory holding the PostgreSQL server binaries.
func BinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("%s=%s: no initdb and postgres there", EnvBinDir, dir)
		}
		return dir, nil
	}
	// Debian and Ubuntu: /usr/lib/postgresql/<major>/bin, newest first.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH: " +
		"install the postgresql package (scripts/setup.sh does) or set " + EnvBinDir)
}

func majorOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// owner is who the cluster runs as: the current user, or a system user
// when that is root.
type owner struct {
	cred *syscall.Credential // nil: the current user
	uid  int
	gid  int
}

func clusterOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{uid: -1, gid: -1}, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return owner{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}, nil
	}
	return owner{}, errors.New("running as root and there is no postgres or nobody user to run the server as (initdb refuses root)")
}

// traversable reports whether every directory on the way to dir lets
// other users through.
func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

func (o owner) attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: o.cred,
		// The server dies with the test process, whatever kills it.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
}

func start(bin string, cfg Config) (*Server, error) {
	own, err := clusterOwner()
	if err != nil {
		return nil, err
	}
	base := os.TempDir()
	if own.cred != nil && !traversable(base) {
		// The server's user must reach its directory.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "hotline-pgtest-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if own.cred != nil {
		if err := os.Chown(dir, own.uid, own.gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = env()
	initdb.SysProcAttr = own.attr()
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// A free port can be taken between choosing it and the server binding
	// it: try again on another.
	var lastErr error
	for range 5 {
		s, err := launch(bin, dir, data, own, cfg)
		if err == nil {
			ok = true
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func env() []string {
	e := []string{"LC_ALL=C", "LANG=C", "TZ=UTC"}
	if p := os.Getenv("PATH"); p != "" {
		e = append(e, "PATH="+p)
	}
	return e
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(bin, dir, data string, own owner, cfg Config) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the server has its own copy
	args := []string{
		"-D", data,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-c", "unix_socket_directories=", // TCP only: no socket path to outgrow
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
		"-c", "autovacuum=off",
	}
	if !cfg.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	cmd.Env = env()
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = own.attr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{dir: dir, port: port, cmd: cmd, exit: make(chan error, 1)}
	go func() { s.exit <- cmd.Wait() }()

	admin, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		s.kill()
		return nil, err
	}
	admin.SetMaxOpenConns(1)
	// Ready when it answers. Two busy cores can make a start slow: the
	// deadline is generous, and an exited server ends the wait at once.
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-s.exit:
			admin.Close()
			s.exit <- werr
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited while starting (%v):\n%s", werr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			admin.Close()
			s.kill()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres did not accept connections on 127.0.0.1:%d in 90 s: %v\n%s", port, err, log)
		}
	}
	s.admin = admin
	return s, nil
}

// DSN is the connection string of database db on the server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port is the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// NewDatabase creates an empty database and returns its connection string.
// It is dropped with the server.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d", s.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.DSN(name)
}

// kill stops the server at once and waits for it.
func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.exit
}

// stop shuts the server down (fast shutdown: sessions are ended) and
// removes its directory.
func (s *Server) stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	var errs []error
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exit:
	case <-time.After(60 * time.Second):
		errs = append(errs, errors.New("postgres did not stop in 60 s; killed"))
		s.kill()
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
