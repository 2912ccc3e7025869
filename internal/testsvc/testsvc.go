// Package testsvc gives tests their own PostgreSQL database and Redis key
// prefix on the servers of the development machine (PostgreSQL on
// 127.0.0.1:5432 with trust authentication, Redis on 127.0.0.1:6379), and
// removes them when the test ends.
//
// When a server does not answer, the test is skipped with a message saying
// how to start it; with AGENTCERT_REQUIRE_SERVICES=1 (set by .ci/run) it
// fails instead. AGENTCERT_TEST_POSTGRES (an administrative postgres:// URL)
// and AGENTCERT_TEST_REDIS (a redis:// URL) point the tests elsewhere.
package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// RequireEnv is the variable that turns a missing server into a failure.
const RequireEnv = "AGENTCERT_REQUIRE_SERVICES"

const (
	startPostgres = "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (see DEVELOPERS.md)"
	startRedis    = "start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` (see DEVELOPERS.md)"
)

// unavailable skips t, or fails it when the services are required.
func unavailable(t testing.TB, what, how string, err error) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s is required (%s=1) but not reachable: %v; %s", what, RequireEnv, err, how)
	}
	t.Skipf("%s not reachable (%v): skipping; %s, and set %s=1 to make this a failure", what, err, how, RequireEnv)
}

// adminURLs are tried in order: the one in the environment, else user
// postgres, then root, on the local server.
func adminURLs() []string {
	if u := os.Getenv("AGENTCERT_TEST_POSTGRES"); u != "" {
		return []string{u}
	}
	return []string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"postgres://root@127.0.0.1:5432/postgres?sslmode=disable",
	}
}

func randomName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func adminConn(ctx context.Context) (*pgx.Conn, string, error) {
	var last error
	for _, u := range adminURLs() {
		c, err := pgx.Connect(ctx, u)
		if err == nil {
			return c, u, nil
		}
		last = err
	}
	return nil, "", last
}

// Postgres creates a database with a random name and returns its URL; the
// database is dropped (with every connection to it) when t ends.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, adminURL, err := adminConn(ctx)
	if err != nil {
		unavailable(t, "PostgreSQL", startPostgres, err)
	}
	defer admin.Close(context.Background())
	name := randomName("agentcert_test_")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testsvc: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := adminConn(ctx)
		if err != nil {
			t.Errorf("testsvc: drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testsvc: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Schema creates a schema with a random name in the database at dbURL and
// returns dbURL with search_path set to it, so that several stores can
// share one test database without seeing each other's tables.
func Schema(t testing.TB, dbURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("testsvc: connect %s: %v", dbURL, err)
	}
	defer c.Close(context.Background())
	name := randomName("s_")
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("testsvc: create schema: %v", err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Redis returns the URL of the Redis server and a key prefix of the test's
// own; keys under the prefix are deleted when t ends.
func Redis(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	redisURL = os.Getenv("AGENTCERT_TEST_REDIS")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("testsvc: AGENTCERT_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		unavailable(t, "Redis", startRedis, err)
	}
	prefix = randomName("agentcert-test-") + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("testsvc: clean redis prefix %s: %v", prefix, err)
		}
	})
	return redisURL, prefix
}
