// Package jstest runs JavaScript from Go tests: a package's js/wasm tests
// inside jsdom (RunWasmTests), and Wacht's npm backend SDK against keyportal's
// backend API (RunWachtSDK). For the first, from an ordinary
// `go test`: it builds the package's test binary for GOOS=js GOARCH=wasm and
// runs it with node and run.mjs, which gives it a browser-like window.
//
// It needs node and this directory's node_modules (`npm ci` here). Without
// them the calling test skips with a message saying so, unless
// KEYPORTAL_REQUIRE_SERVICES=1, when it fails.
package jstest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
)

// Dir returns the directory of run.mjs and node_modules.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// RunWasmTests builds the js/wasm tests of the package in pkgDir and runs them
// in jsdom at pageURL, passing args (e.g. "-test.run=TestX") to the binary.
// It fails t with the binary's output if any wasm test fails, and logs the
// output otherwise.
func RunWasmTests(t *testing.T, pkgDir, pageURL string, args ...string) {
	t.Helper()
	node := testenv.NodePath(t)
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jsdom", "package.json")); err != nil {
		msg := "jsdom is not installed (run: cd " + dir + " && npm ci)"
		if testenv.Required() {
			t.Fatalf("%s; %s=1 makes this mandatory", msg, testenv.RequireEnv)
		}
		t.Skip("skipped: " + msg)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("jstest: the go command is not on PATH")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "wasm.test")
	build := exec.CommandContext(ctx, gobin, "test", "-c", "-o", bin, ".")
	build.Dir = pkgDir
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("jstest: building the wasm tests of %s: %v\n%s", pkgDir, err, out)
	}
	goroot := strings.TrimSpace(runGo(t, gobin, "env", "GOROOT"))

	runArgs := append([]string{filepath.Join(dir, "run.mjs"), "--url", pageURL, "--goroot", goroot, bin, "-test.v"}, args...)
	run := exec.CommandContext(ctx, node, runArgs...)
	run.Dir = pkgDir
	var out bytes.Buffer
	run.Stdout = &out
	run.Stderr = &out
	if err := run.Run(); err != nil {
		t.Fatalf("jstest: wasm tests of %s failed: %v\n%s", pkgDir, err, out.String())
	}
	t.Log(out.String())
}

func runGo(t *testing.T, gobin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(gobin, args...).Output()
	if err != nil {
		t.Fatalf("jstest: go %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// RunWachtSDK runs wacht_sdk.mjs: Wacht's npm backend SDK (@wacht/backend,
// pinned in package.json) reads the audit logs, analytics and time series of
// app from baseURL with the backend API key, and the JSON it read is
// returned. It skips t (fails under KEYPORTAL_REQUIRE_SERVICES=1) without
// node or the SDK installed.
func RunWachtSDK(t *testing.T, baseURL, key, app string) []byte {
	t.Helper()
	node := testenv.NodePath(t)
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@wacht", "backend", "package.json")); err != nil {
		msg := "@wacht/backend is not installed (run: cd " + dir + " && npm ci)"
		if testenv.Required() {
			t.Fatalf("%s; %s=1 makes this mandatory", msg, testenv.RequireEnv)
		}
		t.Skip("skipped: " + msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "wacht_sdk.mjs"), baseURL, key, app)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jstest: wacht_sdk.mjs: %v\n%s", err, stderr.String())
	}
	return out
}
