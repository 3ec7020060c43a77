package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Drivers.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Config is the store section of the configuration file.
type Config struct {
	// Driver is sqlite (the default: one file, no server) or postgres (for
	// several nodes sharing their records).
	Driver string `yaml:"driver"`
	// Path is the SQLite database file. Default "hotline.db". The file is
	// created with mode 0600: it holds what callers said.
	Path string `yaml:"path"`
	// DSNEnv names the environment variable holding the PostgreSQL
	// connection string (postgres://user:pass@host/db?sslmode=...). The
	// string itself never goes in the file. Default HOTLINE_DATABASE_URL.
	DSNEnv string `yaml:"dsn_env"`
	// DSN is the PostgreSQL connection string for programs that have it
	// from elsewhere; it is never read from the file. When set it wins over
	// DSNEnv.
	DSN string `yaml:"-"`
	// MaxConns caps the open database connections. Default 10.
	MaxConns int `yaml:"max_conns"`
	// Retention says how long records are kept; see Store.Purge.
	Retention Retention `yaml:"retention"`
	// Heartbeat is how often the node writes its row in cluster_nodes.
	// Default 2s; 0 turns heartbeats and the closing of dead nodes' calls
	// off.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// NodeTimeout is how old a node's heartbeat may get before the other
	// nodes take it for dead and close its open calls. Default 15s; at
	// least twice Heartbeat.
	NodeTimeout time.Duration `yaml:"node_timeout"`
	// NodeSecretEnv names the environment variable holding the secret the
	// nodes of a cluster share: with it set, a node signs the INVITE it
	// sends another node for an agent's browser phone, and takes only
	// signed ones; unset, the INVITE's source address (a live node's)
	// alone admits it. Default HOTLINE_NODE_SECRET.
	NodeSecretEnv string `yaml:"node_secret_env"`
}

// Retention is how long recordings and transcripts are kept. Zero keeps
// them forever. Call detail records (who called, when, how it ended) are
// kept; the turns of the conversation, transfer summaries and crisis alert
// excerpts are transcripts.
type Retention struct {
	Recordings  time.Duration `yaml:"recordings"`
	Transcripts time.Duration `yaml:"transcripts"`
}

// DefaultConfig is the embedded SQLite store in ./hotline.db, kept forever.
func DefaultConfig() Config {
	return Config{Driver: SQLite, Path: "hotline.db", DSNEnv: "HOTLINE_DATABASE_URL", MaxConns: 10,
		Heartbeat: 2 * time.Second, NodeTimeout: 15 * time.Second, NodeSecretEnv: "HOTLINE_NODE_SECRET"}
}

// Validate reports the first setting the store cannot open with. It does
// not look at the environment: Open does.
func (c Config) Validate() error {
	switch c.Driver {
	case SQLite:
		if c.Path == "" {
			return errors.New("store.path must not be empty")
		}
		if strings.ContainsAny(c.Path, "?#\x00") || strings.HasPrefix(c.Path, "file:") {
			return fmt.Errorf("store.path %q: must be a file name (no ?, # or file: URI)", c.Path)
		}
	case Postgres:
		if c.DSN == "" && c.DSNEnv == "" {
			return errors.New("store.dsn_env must name the environment variable holding the PostgreSQL connection string")
		}
	default:
		return fmt.Errorf("store.driver %q: want sqlite or postgres", c.Driver)
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("store.max_conns %d: must not be negative", c.MaxConns)
	}
	if c.Heartbeat < 0 {
		return fmt.Errorf("store.heartbeat %s: must not be negative", c.Heartbeat)
	}
	if c.Heartbeat > 0 && c.NodeTimeout < 2*c.Heartbeat {
		return fmt.Errorf("store.node_timeout %s: must be at least twice store.heartbeat (%s)", c.NodeTimeout, c.Heartbeat)
	}
	if c.Retention.Recordings < 0 || c.Retention.Transcripts < 0 {
		return errors.New("store.retention: durations must not be negative (0 keeps forever)")
	}
	return nil
}
