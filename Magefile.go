//go:build mage

// Magefile for Lantern, for developers who drive Grafana plugin builds with mage (`mage -v`,
// `mage -l`). The backend is Rust, so every target runs cargo or npm; only Go's standard
// library is used (mage's own helper packages and grafana-plugin-sdk-go/build are Go-backend
// tools and would need the Go module proxy).
//
// mage is optional: CI and the main job use the .ci scripts, which need neither Go nor mage.
// Package delegates to .ci/package so there is one definition of the zip (needs bash).
//
// Binaries are written to dist/bin/ under the names Grafana starts:
// gpx_lantern_<GOOS>_<GOARCH>[.exe]. Linux binaries are static (see .cargo/static.toml).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Default is what `mage` runs without a target, as in Grafana's Go plugins.
var Default = BuildAll

const (
	executable = "gpx_lantern"
	binDir     = "dist/bin"
)

// platform is one Grafana OS/arch and the cargo target that builds it.
type platform struct {
	goos, goarch, triple string
	// linker is the cross linker cargo needs when this is not the host's own target (empty:
	// the host toolchain can link it only on the same OS), and how to install it.
	linker, linkerHint string
}

var platforms = []platform{
	{"linux", "amd64", "x86_64-unknown-linux-gnu", "x86_64-linux-gnu-gcc", "apt install gcc-x86-64-linux-gnu"},
	{"linux", "arm64", "aarch64-unknown-linux-gnu", "aarch64-linux-gnu-gcc", "apt install gcc-aarch64-linux-gnu"},
	{"darwin", "amd64", "x86_64-apple-darwin", "", "build on macOS (xcode-select --install), or point CARGO_TARGET_X86_64_APPLE_DARWIN_LINKER at an osxcross clang"},
	{"darwin", "arm64", "aarch64-apple-darwin", "", "build on macOS (xcode-select --install), or point CARGO_TARGET_AARCH64_APPLE_DARWIN_LINKER at an osxcross clang"},
	{"windows", "amd64", "x86_64-pc-windows-gnu", "x86_64-w64-mingw32-gcc", "apt install gcc-mingw-w64-x86-64"},
}

// Build builds the backend for this machine into dist/bin/.
func Build() error {
	if err := chdirRepo(); err != nil {
		return err
	}
	host, err := hostTriple()
	if err != nil {
		return err
	}
	for _, p := range platforms {
		if p.goos == runtime.GOOS && p.goarch == runtime.GOARCH {
			p.triple = host // e.g. x86_64-pc-windows-msvc on Windows
			return build(p)
		}
	}
	return fmt.Errorf("Grafana runs no plugins on %s/%s (only %s)", runtime.GOOS, runtime.GOARCH, supported())
}

// BuildAll builds the backend for linux amd64/arm64, darwin amd64/arm64 and windows amd64 into
// dist/bin/; a platform whose Rust target or linker is missing is skipped with what to install.
func BuildAll() error {
	if err := chdirRepo(); err != nil {
		return err
	}
	host, err := hostTriple()
	if err != nil {
		return err
	}
	sysroot, err := output("rustc", "--print", "sysroot")
	if err != nil {
		return err
	}
	if err := os.RemoveAll(binDir); err != nil { // no binaries left over from older builds
		return err
	}
	var built, skipped []string
	for _, p := range platforms {
		name := binaryName(p)
		if reason := missing(p, host, sysroot); reason != "" {
			fmt.Printf("skip %s: %s\n", name, reason)
			skipped = append(skipped, name)
			continue
		}
		if err := build(p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		built = append(built, name)
	}
	fmt.Printf("built: %s\n", strings.Join(built, ", "))
	if len(skipped) > 0 {
		fmt.Printf("skipped: %s\n", strings.Join(skipped, ", "))
	}
	if len(built) == 0 {
		return errors.New("no platform could be built")
	}
	return nil
}

// Frontend builds the frontend bundle into frontend/dist/ (npm ci first when needed).
func Frontend() error {
	if err := chdirRepo(); err != nil {
		return err
	}
	if _, err := os.Stat("frontend/node_modules"); err != nil {
		if err := runIn("frontend", "npm", "ci", "--no-audit", "--no-fund"); err != nil {
			return err
		}
	}
	return runIn("frontend", "npm", "run", "build")
}

// Test runs the Rust unit and integration tests and the frontend's typecheck and tests.
func Test() error {
	if err := chdirRepo(); err != nil {
		return err
	}
	if err := run("cargo", "test", "--locked"); err != nil {
		return err
	}
	if err := runIn("frontend", "npm", "run", "typecheck"); err != nil {
		return err
	}
	return runIn("frontend", "npm", "test")
}

// Package builds every platform it can and the zip with all of them (.ci/package --all-binaries).
func Package() error {
	if err := BuildAll(); err != nil {
		return err
	}
	return run("bash", ".ci/package", "--all-binaries")
}

// Clean removes dist/ and frontend/dist/ (cargo's target/ stays: `cargo clean` for that).
func Clean() error {
	if err := chdirRepo(); err != nil {
		return err
	}
	for _, dir := range []string{"dist", "frontend/dist"} {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// build runs cargo for p and copies the executable to dist/bin/ with mode 0755.
func build(p platform) error {
	args := []string{"build", "--release", "--locked", "--target", p.triple}
	if p.goos == "linux" {
		args = append(args, "--config", ".cargo/static.toml")
	}
	cmd := exec.Command("cargo", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if env := linkerEnv(p); env != "" && os.Getenv(env) == "" && p.linker != "" && !native(p) {
		cmd.Env = append(cmd.Env, env+"="+p.linker)
	}
	fmt.Printf("cargo %s\n", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return err
	}
	src := filepath.Join("target", p.triple, "release", executable)
	if p.goos == "windows" {
		src += ".exe"
	}
	dst := filepath.Join(binDir, binaryName(p))
	if err := copyFile(src, dst, 0o755); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", dst)
	return nil
}

// missing says what keeps p from being built here, or "" when it can be.
func missing(p platform, host, sysroot string) string {
	if _, err := os.Stat(filepath.Join(sysroot, "lib", "rustlib", p.triple, "lib")); err != nil {
		return fmt.Sprintf("Rust target not installed (rustup target add %s)", p.triple)
	}
	if p.triple == host || native(p) {
		return ""
	}
	if os.Getenv(linkerEnv(p)) != "" {
		return ""
	}
	if p.linker == "" {
		return fmt.Sprintf("no linker for %s: %s", p.triple, p.linkerHint)
	}
	if _, err := exec.LookPath(p.linker); err != nil {
		return fmt.Sprintf("linker %s not found (%s, or set %s)", p.linker, p.linkerHint, linkerEnv(p))
	}
	return ""
}

// native reports whether this machine's own C toolchain links p (same OS; Apple's toolchain
// links both Mac architectures).
func native(p platform) bool {
	return p.goos == runtime.GOOS && (p.goarch == runtime.GOARCH || p.goos == "darwin")
}

func binaryName(p platform) string {
	name := fmt.Sprintf("%s_%s_%s", executable, p.goos, p.goarch)
	if p.goos == "windows" {
		name += ".exe"
	}
	return name
}

// linkerEnv is cargo's variable for p's linker, e.g. CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER.
func linkerEnv(p platform) string {
	return "CARGO_TARGET_" + strings.ToUpper(strings.ReplaceAll(p.triple, "-", "_")) + "_LINKER"
}

func supported() string {
	var names []string
	for _, p := range platforms {
		names = append(names, p.goos+"/"+p.goarch)
	}
	return strings.Join(names, ", ")
}

func hostTriple() (string, error) {
	out, err := output("rustc", "-vV")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "host: ") {
			return strings.TrimPrefix(line, "host: "), nil
		}
	}
	return "", errors.New("rustc -vV printed no host line")
}

// chdirRepo makes the repository root (where this file and Cargo.toml are) the working
// directory; mage starts targets in the Magefile's directory, a plain `go run` may not.
func chdirRepo() error {
	for dir, _ := os.Getwd(); ; {
		if _, err := os.Stat(filepath.Join(dir, "Magefile.go")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "Cargo.toml")); err == nil {
				return os.Chdir(dir)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return errors.New("run mage inside the Lantern repository")
		}
		dir = parent
	}
}

func run(name string, args ...string) error {
	return runIn(".", name, args...)
}

func runIn(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func output(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode) // WriteFile keeps an existing file's mode
}
