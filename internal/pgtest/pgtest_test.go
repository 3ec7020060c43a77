package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestServer(t *testing.T) {
	var srv *Server
	t.Run("run", func(t *testing.T) {
		srv = Start(t)
		a, b := srv.NewDatabase(t), srv.NewDatabase(t)
		if a == b {
			t.Fatalf("two databases, one DSN: %s", a)
		}
		if !strings.Contains(a, "127.0.0.1:") {
			t.Errorf("DSN %s: not on 127.0.0.1", a)
		}
		for _, dsn := range []string{a, b} {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			var one int
			if err := db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Errorf("%s: SELECT 1 = %d, %v", dsn, one, err)
			}
			if _, err := db.ExecContext(context.Background(), "CREATE TABLE t (x int)"); err != nil {
				t.Errorf("%s: %v", dsn, err)
			}
			db.Close()
		}
		if _, err := os.Stat(srv.dir); err != nil {
			t.Fatalf("cluster directory: %v", err)
		}
	})
	// The subtest's end stopped the server and removed its directory.
	if srv == nil {
		t.Fatal("no server")
	}
	if _, err := os.Stat(srv.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still there after the test: %v", srv.dir, err)
	}
	if srv.cmd.ProcessState == nil {
		t.Errorf("server still running after the test")
	}
}

func TestBinDirOverride(t *testing.T) {
	t.Setenv(EnvBinDir, t.TempDir())
	if _, err := BinDir(); err == nil || !strings.Contains(err.Error(), EnvBinDir) {
		t.Errorf("BinDir with an empty %s = %v, want an error naming it", EnvBinDir, err)
	}
}

func TestTraversable(t *testing.T) {
	if !traversable("/tmp") {
		t.Error("/tmp is not traversable")
	}
	if traversable(t.TempDir()) { // created 0700
		t.Error("a private directory is traversable")
	}
}
