package datadir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireExcludesSecondHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description: a second open in the
	// same process conflicts just as another process would.
	_, err = Acquire(dir)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: %v, want a LockedError", err)
	}
	if le.PID != os.Getpid() || le.Dir != dir || !strings.Contains(err.Error(), "in use by process") {
		t.Fatalf("LockedError %+v (%v), want pid %d", le, err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer l2.Release()
}

// TestLockSurvivesOnlyItsProcess: a lock held by a process that was killed
// is free again (the kernel drops flock locks with the process).
func TestLockSurvivesOnlyItsProcess(t *testing.T) {
	if os.Getenv("DATADIR_HOLD") != "" {
		if _, err := Acquire(os.Getenv("DATADIR_HOLD")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		select {}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockSurvivesOnlyItsProcess$")
	cmd.Env = append(os.Environ(), "DATADIR_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("child: %q %v", buf, err)
	}
	_, err = Acquire(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("Acquire while the child holds it: %v, want locked by %d", err, cmd.Process.Pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}

func TestAcquireMissingDirectory(t *testing.T) {
	_, err := Acquire(filepath.Join(t.TempDir(), "missing"))
	if err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire on a missing directory: %v", err)
	}
}
