package cli

import (
	"crypto/ed25519"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
)

// The module verbs that act on the running appliance: what it has, what
// runs, and what it trusts.

func moduleListDaemon(e *env, args []string) error {
	f := e.newFlags("module list", "module list", "List the appliance's modules — embedded and installed — whether each runs, and its signature check.").clientFlags()
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	var ms []modstore.Module
	if err := f.client().call("GET", "/modules", nil, &ms); err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, ms)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tKIND\tSOURCE\tENABLED\tEVENTS\tTECHNIQUES\tSIGNATURE")
	for _, m := range ms {
		sig := "ok (" + m.Signer + ")"
		switch {
		case m.Refused != "":
			sig = "refused: " + m.Refused
		case m.Unsigned:
			sig = "UNSIGNED (allowed by " + m.InstalledBy + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\n", m.Name, m.Version, m.Kind, m.Source, m.Enabled,
			strings.Join(m.Subscriptions, ","), strings.Join(m.Techniques, ","), sig)
	}
	return tw.Flush()
}

func moduleInstall(e *env, args []string) error {
	f := e.newFlags("module install", "module install DIR [--allow-unsigned]",
		"Install a module directory (module.wasm, manifest.json, signature.json) on the appliance. Its\n"+
			"signature must verify against a trusted key (firebreak module trust); --allow-unsigned\n"+
			"installs it anyway, and the journal records who allowed it.").clientFlags()
	allow := f.Bool("allow-unsigned", false, "install even if the signature is missing or does not verify (journaled)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	p, err := readModuleDir(pos[0])
	if err != nil {
		return err
	}
	var m modstore.Module
	body := map[string]any{"manifest": p.Manifest, "wasm": p.Wasm, "signature": p.Signature, "allow_unsigned": *allow}
	if err := f.client().call("POST", "/modules", body, &m); err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, m)
	}
	fmt.Fprintf(e.stdout, "installed %s %s (sha256 %.16s), enabled\n", m.Name, m.Version, m.SHA256)
	return nil
}

func moduleEnable(e *env, args []string, on bool) error {
	cmd := map[bool]string{true: "enable", false: "disable"}[on]
	f := e.newFlags("module "+cmd, "module "+cmd+" NAME", "Make a module run, or stop it running, from the next traffic source or analysis on.").clientFlags()
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var m modstore.Module
	if err := f.client().call("POST", "/modules/"+url.PathEscape(pos[0])+"/"+cmd, nil, &m); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %sd\n", m.Name, cmd)
	return nil
}

func moduleTrustKey(e *env, args []string) error {
	f := e.newFlags("module trust", "module trust NAME KEY.pub",
		"Trust an ed25519 public key (PEM) to sign modules and indicator feeds, e.g. HQ's.").clientFlags()
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	var out map[string]string
	if err := f.client().call("POST", "/modules/trust", map[string]string{"name": pos[0], "key": string(b)}, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "trusted %s, key %s\n", out["name"], out["fingerprint"])
	return nil
}

func moduleFeed(e *env, args []string) error {
	f := e.newFlags("module feed", "module feed NAME FILE [--sig FILE.sig]",
		"Install a signed indicator feed for the ioc module ({\"indicators\": [...]}, see modules/ioc).").clientFlags()
	sigPath := f.String("sig", "", "the feed's signature (default FILE.sig; firebreak module sign-feed makes one)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	if *sigPath == "" {
		*sigPath = pos[1] + ".sig"
	}
	sig, err := os.ReadFile(*sigPath)
	if err != nil {
		return err
	}
	var fd modstore.Feed
	if err := f.client().call("POST", "/modules/feeds", map[string]any{"name": pos[0], "data": data, "signature": sig}, &fd); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "installed feed %s: %d indicators, signed by %s\n", fd.Name, fd.Indicators, fd.Signer)
	return nil
}

func moduleSignFeed(e *env, args []string) error {
	f := e.newFlags("module sign-feed", "module sign-feed NAME FILE --key KEY",
		"Sign an indicator feed under NAME with an ed25519 key (PKCS#8 PEM), writing FILE.sig.")
	keyPath := f.String("key", "", "the signing key (PKCS#8 PEM ed25519)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	key, err := signingKey(*keyPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	if err := os.WriteFile(pos[1]+".sig", modhost.SignFeed(key, pos[0], data), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "signed feed %s with key %.16s\n", pos[0], modhost.Fingerprint(key.Public().(ed25519.PublicKey)))
	return nil
}
