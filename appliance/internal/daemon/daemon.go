// Package daemon is `firebreak serve`: it opens the data directory, starts
// the journal and the case book, and serves the API on the local socket and,
// if asked, on a TCP address.
//
// It must never start on a data directory another daemon holds, and never
// serve plain HTTP beyond loopback.
package daemon

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/console"
	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/appliance/internal/datadir"
	"github.com/firebreak-ir/firebreak/appliance/internal/detect"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
	"github.com/firebreak-ir/firebreak/appliance/internal/sensor"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/firebreak-ir/firebreak/samples"
)

// Options configure the daemon. Zero values are the documented defaults.
type Options struct {
	// DataDir is the data directory. Required.
	DataDir string
	// Listen is a TCP address for the API (and later the console), e.g.
	// 127.0.0.1:8080. Empty serves the local socket only. Until HTTPS is
	// built it must be a loopback address.
	Listen string
	// Manage is the management address, e.g. 0.0.0.0:8443: the API and the
	// console over HTTPS on any address, with a self-signed certificate
	// made on first start and kept in DataDir/tls. Empty: no management
	// port.
	Manage string
	// LockTimeout is how long to wait for another daemon's lock. Default 1s.
	LockTimeout time.Duration
	// Version is reported by the API and journaled at start.
	Version string
	// Sample replays the captures bundled in the binary into the traffic
	// view, so a new appliance has something to show.
	Sample bool
	// Replay are capture files replayed into the traffic view at start.
	Replay []string
	// Capture configures live capture on the appliance's interfaces.
	Capture CaptureOptions
	// Containment configures isolation through netctl (mode, namespace,
	// bridge, ports); a zero Mode leaves containment off and its API
	// answers 501.
	Containment netctl.Options
	// Sync ships the journals and evidence to HQ's S3 bucket in the
	// background (endpoint, bucket, rate cap, interval); an empty Endpoint
	// leaves sync off and its API answers 501. The daemon fills in the store,
	// journal, vault and key.
	Sync hqsync.Options
	// NoModules analyses without the detection modules. By default the
	// first-party modules embedded in the binary run over every traffic
	// source and every analysis of a case's captures.
	NoModules bool
	// ModuleCache is where compiled modules are kept between starts.
	// Default $FIREBREAK_MODULE_CACHE, else DataDir/modcache.
	ModuleCache string
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Daemon is a running appliance.
type Daemon struct {
	Dir     *datadir.Dir
	Journal *journal.Store
	Book    *casebook.Book
	Vault   *vault.Vault
	Sensor  *sensor.Sensor
	Contain *contain.Service // nil when containment is not configured
	Sync    *hqsync.Syncer   // nil when sync to HQ is not configured
	Detect  *detect.Detector // nil when no detection modules run
	Modules *modstore.Store  // the installed modules, feeds and trusted keys
	// TCPAddr is the address the TCP API listens on, if any.
	TCPAddr net.Addr
	// ManageAddr is the address the HTTPS management port listens on, if
	// any, and ManageCert its certificate.
	ManageAddr net.Addr
	ManageCert console.Certificate
	// Accounts are the engineers who may log in to the console.
	Accounts *auth.Accounts

	log     *slog.Logger
	servers []*http.Server
	errc    chan error
	stop    context.CancelFunc // stops the sources
}

// Start opens the data directory and serves the API. Close stops it.
func Start(opts Options) (d *Daemon, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger
	if opts.Listen != "" {
		if err := checkLoopback(opts.Listen); err != nil {
			return nil, err
		}
	}
	dir, err := datadir.Open(opts.DataDir, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	d = &Daemon{Dir: dir, log: log, errc: make(chan error, 2)}
	started := d // `return nil, err` sets d to nil before this runs
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	if d.Journal, err = journal.Open(dir.DB, journal.Options{Key: dir.Identity.Key(), Logger: log.With("component", "journal")}); err != nil {
		return nil, err
	}
	if d.Book, err = casebook.New(d.Journal, dir.DB, dir.Identity.Public()); err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(dir.DB)
	if err != nil {
		return nil, err
	}
	if d.Accounts, err = auth.NewAccounts(dir.DB); err != nil {
		return nil, err
	}
	sessions := console.NewSessions(0, 0, nil)
	if d.Vault, err = vault.Open(dir.Vault()); err != nil {
		return nil, err
	}
	if d.Modules, err = modstore.Open(filepath.Join(dir.Path, "modules")); err != nil {
		return nil, err
	}
	if !opts.NoModules {
		if d.Detect, err = d.startDetect(cmp.Or(opts.ModuleCache, os.Getenv("FIREBREAK_MODULE_CACHE"), filepath.Join(dir.Path, "modcache"))); err != nil {
			return nil, err
		}
	}
	if d.Sensor, err = sensor.New(sensor.Options{EVEDir: filepath.Join(dir.Path, "eve"), Detect: d.Detect, Logger: log}); err != nil {
		return nil, err
	}
	d.Modules.OnFeeds = func() { d.Sensor.Reload("ioc") } // a new feed applies to live traffic at once
	var ctx context.Context
	ctx, d.stop = context.WithCancel(context.Background())
	if opts.Sample {
		if err := d.Sensor.ReplayFS(ctx, "sample captures", samples.FS); err != nil {
			return nil, err
		}
	}
	if len(opts.Replay) > 0 {
		d.Sensor.Replay(ctx, "replay", opts.Replay)
	}
	// Only live traffic tells what an isolation would cut: replayed
	// captures are another network's.
	var flows contain.Flows
	if len(opts.Capture.Interfaces) > 0 {
		if err := d.startCapture(ctx, opts.Capture, opts.Version); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		flows = d.Sensor
	}
	if opts.Containment.Mode != "" {
		if d.Contain, err = contain.Start(contain.Options{Net: opts.Containment, Journal: d.Journal, Book: d.Book,
			Listen: cmp.Or(opts.Manage, opts.Listen), Flows: flows, Logger: log.With("component", "contain")}); err != nil {
			return nil, err
		}
	}
	if opts.Sync.Endpoint != "" {
		so := opts.Sync
		so.DB, so.Journal, so.Vault, so.Appliance, so.Key = dir.DB, d.Journal, d.Vault, dir.Identity.ID(), dir.Identity.Key()
		so.Logger = log.With("component", "hqsync")
		so.Pull = hqPuller{d}
		if d.Sync, err = hqsync.New(so); err != nil {
			return nil, fmt.Errorf("sync: %w", err)
		}
		d.Sync.Start() // its own goroutine: nothing here waits for a link
	}
	handler := api.New(api.Config{
		Book: d.Book, Journal: d.Journal, Tokens: tokens, Vault: d.Vault, Sensor: d.Sensor, Key: dir.Identity.Key(), Contain: d.Contain, Sync: d.Sync, Detect: d.Detect, Modules: d.Modules,
		Version: opts.Version, Appliance: dir.Identity.ID(), Logger: log,
		Sessions: sessions, Accounts: d.Accounts,
	})
	web := console.New(console.Config{API: handler, Accounts: d.Accounts, Sessions: sessions, Journal: d.Journal, Logger: log})
	if _, err := d.Journal.Append(context.Background(), journal.Record{
		Journal: casebook.ApplianceJournal, Actor: "firebreak", Type: "appliance.started",
		Payload: map[string]string{"version": opts.Version, "appliance": dir.Identity.ID()},
	}); err != nil {
		return nil, fmt.Errorf("journal start: %w", err)
	}

	// We hold the store's lock, so a socket file left here is from a daemon
	// that died: remove it.
	sock := dir.Socket()
	os.Remove(sock)
	ul, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ul.Close()
		return nil, err
	}
	d.serve(ul, &http.Server{Handler: handler, ConnContext: api.LocalConnContext})
	if opts.Listen != "" {
		tl, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
		}
		d.TCPAddr = tl.Addr()
		d.serve(tl, &http.Server{Handler: web})
	}
	if opts.Manage != "" {
		if err := d.serveManage(opts.Manage, web); err != nil {
			return nil, err
		}
	}
	log.Info("firebreak serving", "version", opts.Version, "appliance", dir.Identity.ID(),
		"data", dir.Path, "socket", sock, "listen", d.TCPAddr)
	return d, nil
}

// startDetect prepares the detection modules of the module store: the
// embedded first-party modules and those installed since, as enabled at
// the start of each source or analysis.
func (d *Daemon) startDetect(cache string) (*detect.Detector, error) {
	return detect.New(detect.Options{Source: d.Modules, Trust: d.Modules.Trust(), CacheDir: cache,
		Logger: d.log.With("component", "modules"),
		Journal: func(ctx context.Context, typ string, payload any) error {
			_, err := d.Journal.Append(ctx, journal.Record{Journal: casebook.ApplianceJournal, Actor: "firebreak", Type: typ, Payload: payload})
			return err
		}})
}

func (d *Daemon) serve(l net.Listener, srv *http.Server) {
	srv.ReadHeaderTimeout = 10 * time.Second
	srv.ErrorLog = slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)
	d.servers = append(d.servers, srv)
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			d.errc <- err
		}
	}()
}

// Err reports a listener that failed after Start.
func (d *Daemon) Err() <-chan error { return d.errc }

// Close stops serving, waits up to five seconds for calls in flight, and
// closes the journal and the store.
func (d *Daemon) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range d.servers {
		s.Shutdown(ctx)
	}
	if d.stop != nil {
		d.stop()
		d.Sensor.Close()
	}
	if d.Contain != nil {
		d.Contain.Close()
	}
	if d.Sync != nil {
		d.Sync.Close()
	}
	if d.Journal != nil {
		d.Journal.Close()
	}
	if d.Vault != nil {
		d.Vault.Close()
	}
	os.Remove(d.Dir.Socket())
	return d.Dir.Close()
}

// serveManage serves the console and the API over HTTPS on addr, with the
// certificate kept in the data directory (made on first start).
func (d *Daemon) serveManage(addr string, h http.Handler) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--manage %q: %w", addr, err)
	}
	if d.ManageCert, err = console.LoadOrCreateCertificate(filepath.Join(d.Dir.Path, "tls"), host); err != nil {
		return err
	}
	if d.ManageCert.Created {
		d.log.Info("management certificate generated", "sha256", d.ManageCert.Fingerprint)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	d.ManageAddr = l.Addr()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{d.ManageCert.TLS}}
	d.serve(tls.NewListener(l, cfg), &http.Server{Handler: h, TLSConfig: cfg})
	return nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %s: plain HTTP is served on loopback only; use --manage %s for HTTPS with the console", addr, addr)
	}
	return nil
}
