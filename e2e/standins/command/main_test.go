// Tests of the command provider stand-in, one per behaviour it shares with the real provider
// 1.2.1: run with `go test` (e2e/standins/test.sh), against in-process SSH servers on loopback.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// recorder collects what a command logs.
type recorder struct {
	mu                        sync.Mutex
	status, warnings, errors_ []string
}

func (r *recorder) logs() logs {
	add := func(to *[]string) func(string) {
		return func(m string) { r.mu.Lock(); defer r.mu.Unlock(); *to = append(*to, m) }
	}
	return logs{status: add(&r.status), warning: add(&r.warnings), error: add(&r.errors_)}
}

// server is an SSH server on loopback that runs exec requests with /bin/sh.
type server struct {
	addr      string
	authorize ssh.PublicKey // the only client key accepted
	refuseEnv bool          // answer every env request with failure, as sshd without AcceptEnv does
	env       map[string]string
}

func newServer(t *testing.T, hostKey ssh.Signer, authorize ssh.PublicKey, refuseEnv bool) *server {
	t.Helper()
	s := &server{authorize: authorize, refuseEnv: refuseEnv, env: map[string]string{}}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if s.authorize != nil && string(key.Marshal()) == string(s.authorize.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unauthorized")
	}}
	cfg.AddHostKey(hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s.addr = l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c, cfg)
		}
	}()
	return s
}

func (s *server) serve(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range requests {
				switch req.Type {
				case "env":
					var kv struct{ Name, Value string }
					_ = ssh.Unmarshal(req.Payload, &kv)
					if !s.refuseEnv {
						s.env[kv.Name] = kv.Value
					}
					_ = req.Reply(!s.refuseEnv, nil)
				case "exec":
					var command struct{ Value string }
					_ = ssh.Unmarshal(req.Payload, &command)
					_ = req.Reply(true, nil)
					cmd := exec.Command("/bin/sh", "-c", command.Value)
					for k, v := range s.env {
						cmd.Env = append(cmd.Env, k+"="+v)
					}
					cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
					status := 0
					if err := cmd.Run(); err != nil {
						status = 1
						var ee *exec.ExitError
						if errors.As(err, &ee) {
							status = ee.ExitCode()
						}
					}
					_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
					return
				default:
					_ = req.Reply(false, nil)
				}
			}
		}()
	}
}

func ed25519Signer(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

func connection(s *server, privateKey string, hostKey *string, limit int) Connection {
	host, port, _ := net.SplitHostPort(s.addr)
	var p float64
	fmt.Sscan(port, &p)
	user := "builder"
	return Connection{Host: host, Port: &p, User: &user, PrivateKey: &privateKey, HostKey: hostKey, DialErrorLimit: &limit}
}

func authorizedLine(k ssh.PublicKey) *string {
	s := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	return &s
}

func TestRetryDelayGrowsFrom100msByHalfUpTo5s(t *testing.T) {
	want := []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 225 * time.Millisecond, 337500 * time.Microsecond}
	for i, w := range want {
		if got := retryDelay(i); got != w {
			t.Errorf("retryDelay(%d) = %v, want %v", i, got, w)
		}
	}
	if got := retryDelay(40); got != 5*time.Second {
		t.Errorf("retryDelay(40) = %v, want 5s", got)
	}
}

func TestPersistentFaultIsRetriedUntilTheDeadlineAndReportsOnlyTheDeadline(t *testing.T) {
	host, _ := ed25519Signer(t)
	_, operator := ed25519Signer(t)
	other, _ := ed25519Signer(t)
	s := newServer(t, host, other.PublicKey(), false) // the operator's key is not authorized
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var r recorder
	_, _, err := runRemote(ctx, r.logs(), RemoteArgs{Connection: connection(s, operator, authorizedLine(host.PublicKey()), -1)}, "true", "", "")
	if err == nil || err.Error() != "context deadline exceeded" {
		t.Fatalf("err = %v, want only context deadline exceeded", err)
	}
	if len(r.status) < 3 || r.status[0] != "Dial 1/inf failed: retrying" || r.status[2] != "Dial 3/inf failed: retrying" {
		t.Fatalf("status lines = %q", r.status)
	}
}

func TestDialErrorLimitEndsWithTheLastError(t *testing.T) {
	var r recorder
	calls := 0
	_, err := dialWithRetry(context.Background(), r.logs(), "Dial", 2, func() (int, error) { calls++; return 0, errors.New("connection refused") })
	if calls != 3 || err == nil || err.Error() != "after 2 failed attempts: connection refused" {
		t.Fatalf("calls = %d, err = %v", calls, err)
	}
	if strings.Join(r.status, "|") != "Dial 1/2 failed: retrying|Dial 2/2 failed: retrying" {
		t.Fatalf("status = %q", r.status)
	}
}

func TestRSAHostKeyOffersOnlySHA1WhichModernServersRefuse(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	plain, _ := ssh.NewSignerFromKey(key)
	// OpenSSH >= 8.8 signs with rsa-sha2-256/512 only.
	modern, err := ssh.NewSignerWithAlgorithms(plain.(ssh.AlgorithmSigner), []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256})
	if err != nil {
		t.Fatal(err)
	}
	signer, operator := ed25519Signer(t)
	s := newServer(t, modern, signer.PublicKey(), false)
	var r recorder
	_, _, err = runRemote(context.Background(), r.logs(), RemoteArgs{Connection: connection(s, operator, authorizedLine(plain.PublicKey()), 0)}, "true", "", "")
	if err == nil || !strings.Contains(err.Error(), "no common algorithm for host key") || !strings.Contains(err.Error(), `we offered: ["ssh-rsa"]`) {
		t.Fatalf("err = %v, want the SHA-1-only offer refused", err)
	}
}

func TestPinnedHostKeyMustMatchAndNoHostKeyMeansNoCheck(t *testing.T) {
	host, _ := ed25519Signer(t)
	imposter, _ := ed25519Signer(t)
	signer, operator := ed25519Signer(t)
	s := newServer(t, host, signer.PublicKey(), false)
	var r recorder
	if _, _, err := runRemote(context.Background(), r.logs(), RemoteArgs{Connection: connection(s, operator, authorizedLine(imposter.PublicKey()), 0)}, "true", "", ""); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("a wrong pinned key: err = %v", err)
	}
	out, _, err := runRemote(context.Background(), r.logs(), RemoteArgs{Connection: connection(s, operator, nil, 0)}, "echo unchecked", "", "")
	if err != nil || out != "unchecked" {
		t.Fatalf("without hostKey: out = %q, err = %v", out, err)
	}
}

func TestRefusedEnvironmentFailsTheCommandButPreviousOutputOnlyWarns(t *testing.T) {
	host, _ := ed25519Signer(t)
	signer, operator := ed25519Signer(t)
	s := newServer(t, host, signer.PublicKey(), true)
	var r recorder
	in := RemoteArgs{Connection: connection(s, operator, nil, 0)}
	in.Environment = map[string]string{"FOO": "bar"}
	_, _, err := runRemote(context.Background(), r.logs(), in, "true", "", "")
	if err == nil || err.Error() != `could not set environment variable "FOO": ssh: setenv failed` {
		t.Fatalf("err = %v", err)
	}
	out, _, err := runRemote(context.Background(), r.logs(), RemoteArgs{Connection: in.Connection}, "echo ran", "previous", "")
	if err != nil || out != "ran" || len(r.warnings) != 1 || !strings.HasPrefix(r.warnings[0], "Unable to set 'PULUMI_COMMAND_STDOUT'") {
		t.Fatalf("out = %q, err = %v, warnings = %q", out, err, r.warnings)
	}
}

func TestAgentSocketIsUsedWhenSetAndAStaleOneFails(t *testing.T) {
	host, _ := ed25519Signer(t)
	_, agentKey, _ := ed25519.GenerateKey(rand.Reader)
	agentSigner, _ := ssh.NewSignerFromKey(agentKey)
	s := newServer(t, host, agentSigner.PublicKey(), false)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: agentKey}); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	conn := connection(s, "", nil, 0)
	conn.PrivateKey = nil
	var r recorder
	t.Setenv("SSH_AUTH_SOCK", socket)
	if out, _, err := runRemote(context.Background(), r.logs(), RemoteArgs{Connection: conn}, "echo agent", "", ""); err != nil || out != "agent" {
		t.Fatalf("with the agent: out = %q, err = %v", out, err)
	}
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "gone.sock"))
	if _, _, err := runRemote(context.Background(), r.logs(), RemoteArgs{Connection: conn}, "true", "", ""); err == nil || !strings.Contains(err.Error(), "connect: no such file or directory") {
		t.Fatalf("a stale socket: err = %v", err)
	}
}

func TestPreviousOutputIsSetOnlyWhenNotEmpty(t *testing.T) {
	var r recorder
	script := `printf '%s|%s|%s' "${PULUMI_COMMAND_STDOUT-unset}" "${PULUMI_COMMAND_STDERR-unset}" "$(env | grep -c ^PULUMI_COMMAND_ || true)"`
	off := false
	for _, c := range []struct {
		name, stdout, stderr, want string
		add                        *bool
	}{
		{"both empty", "", "", "unset|unset|0", nil},
		{"stdout only", "out", "", "out|unset|1", nil},
		{"both", "out", "err", "out|err|2", nil},
		{"turned off", "out", "err", "unset|unset|0", &off},
	} {
		in := LocalArgs{}
		in.AddPreviousOutputInEnv = c.add
		os.Unsetenv(envStdout)
		got, _, err := runLocal(context.Background(), r.logs(), in, script, c.stdout, c.stderr)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestLoggingStreamsTheChosenStreamsAsStatusLines(t *testing.T) {
	script := "echo out1; echo err1 >&2; echo out2"
	for _, c := range []struct {
		logging *string
		want    string
	}{
		{nil, "out1,err1,out2"},
		{ptr("stdoutAndStderr"), "out1,err1,out2"},
		{ptr("stdout"), "out1,out2"},
		{ptr("stderr"), "err1"},
		{ptr("none"), ""},
	} {
		var r recorder
		in := LocalArgs{}
		in.Logging = c.logging
		stdout, stderr, err := runLocal(context.Background(), r.logs(), in, script, "", "")
		if err != nil || stdout != "out1\nout2" || stderr != "err1" {
			t.Fatalf("outputs %q %q %v", stdout, stderr, err)
		}
		// Lines from two pipes may arrive in either order; compare as sets in order per stream.
		if got := strings.Join(r.status, ","); !sameLines(got, c.want) {
			t.Errorf("logging %v: status %q, want %q", deref(c.logging), got, c.want)
		}
	}
}

func TestFailingLocalCommandReportsTheCommandTextThenItsOutput(t *testing.T) {
	var r recorder
	command := "echo starting; echo 'build node x is not available' >&2; exit 3"
	_, _, err := runLocal(context.Background(), r.logs(), LocalArgs{}, command, "", "")
	// The command's stdout and stderr are two pipes that os/exec reads in two goroutines, so the
	// order of lines across the two streams is not fixed; the command text always comes first.
	prefix := "exit status 3: running \"echo starting; echo 'build node x is not available' >&2; exit 3\":\n"
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("err = %q, want it to start with %q", err, prefix)
	}
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(err.Error(), prefix), "\n"), "\n")
	sort.Strings(lines)
	if strings.Join(lines, "|") != "build node x is not available|starting" {
		t.Fatalf("output after the command text = %q, want both lines of the command's output", lines)
	}
}

// runBounded runs a local command and reports whether it returned within `wait`; the test
// bounds its own wait, since a hung command never returns.
func runBounded(t *testing.T, ctx context.Context, in LocalArgs, script string, wait time.Duration) (stdout string, err error, returned bool) {
	t.Helper()
	var r recorder
	type result struct {
		stdout string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := runLocal(ctx, r.logs(), in, script, "", "")
		done <- result{out, err}
	}()
	select {
	case res := <-done:
		return res.stdout, res.err, true
	case <-time.After(wait):
		return "", nil, false
	}
}

func TestALineOver64KiBOnALoggedStreamHangsTheCommandEvenPastItsTimeout(t *testing.T) {
	// sh's own printf writes the line, so the timeout's SIGKILL leaves no other writer behind.
	// Everything goes to stderr: stdout is logged through the same pipe, and an `echo` on stdout
	// once landed inside the long line (the two streams are copied by separate goroutines), gave
	// the reader a newline within 64 KiB and let the command return (1 run in 5).
	long := `printf '%070000d\n' 0 >&2; echo finished >&2`
	// The resource's timeout: the real provider kills the command then, and still never returns.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err, returned := runBounded(t, ctx, LocalArgs{}, long, 4*time.Second); returned {
		t.Fatalf("a 70,000-byte line on logged stderr returned (%v); the real provider hangs", err)
	}
}

func TestLinesUnder64KiBOrOnAStreamNotLoggedReturn(t *testing.T) {
	for _, c := range []struct {
		name, script, logging string
		stdoutLen             int
	}{
		{"a 60,000-byte line on logged stderr", `printf '%060000d\n' 0 >&2; echo finished`, "stdoutAndStderr", len("finished")},
		{"a 70,000-byte line on stdout, which only stderr is logged", `printf '%070000d\n' 0`, "stderr", 70000},
		{"the same line on stderr with nothing logged", `printf '%070000d\n' 0 >&2`, "none", 0},
	} {
		in := LocalArgs{}
		in.Logging = &c.logging
		stdout, err, returned := runBounded(t, context.Background(), in, c.script, 10*time.Second)
		if !returned || err != nil || len(stdout) != c.stdoutLen {
			t.Errorf("%s: returned %v, err %v, stdout %d bytes (want %d)", c.name, returned, err, len(stdout), c.stdoutLen)
		}
	}
}

func TestAFailedUpdateKeepsThePreviousOutputs(t *testing.T) {
	var r recorder
	prev := LocalState{Stdout: "old out", Stderr: "old err"}
	in := LocalArgs{}
	in.Create = ptr("echo new out; echo new err >&2; exit 1")
	st, err := updateLocal(context.Background(), r.logs(), in, prev, false)
	if err == nil || st.Stdout != "old out" || st.Stderr != "old err" || *st.Create != *in.Create {
		t.Fatalf("failed local update: state %q %q, err %v; want the previous outputs with the new inputs", st.Stdout, st.Stderr, err)
	}
	in.Create = ptr("echo new out; echo new err >&2")
	if st, err = updateLocal(context.Background(), r.logs(), in, prev, false); err != nil || st.Stdout != "new out" || st.Stderr != "new err" {
		t.Fatalf("successful local update: state %q %q, err %v", st.Stdout, st.Stderr, err)
	}

	host, _ := ed25519Signer(t)
	signer, operator := ed25519Signer(t)
	s := newServer(t, host, signer.PublicKey(), false)
	rin := RemoteArgs{Connection: connection(s, operator, nil, 0)}
	rin.Update = ptr("echo new out; exit 2")
	rst, err := updateRemote(context.Background(), r.logs(), rin, RemoteState{Stdout: "old out", Stderr: "old err"}, false)
	if err == nil || rst.Stdout != "old out" || rst.Stderr != "old err" {
		t.Fatalf("failed remote update: state %q %q, err %v", rst.Stdout, rst.Stderr, err)
	}
}

func TestResourceIDsAreTheNameAndEightHexCharacters(t *testing.T) {
	id := resourceID("fleet-check")
	if len(id) != len("fleet-check")+8 || !strings.HasPrefix(id, "fleet-check") || strings.Trim(id[len("fleet-check"):], "0123456789abcdef") != "" {
		t.Fatalf("id = %q", id)
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "<default>"
	}
	return *s
}

func sameLines(got, want string) bool {
	split := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, ",") {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	g, w := split(got), split(want)
	if len(g) != len(w) {
		return false
	}
	for k := range w {
		if !g[k] {
			return false
		}
	}
	return true
}
