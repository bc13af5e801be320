package console

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificate is the management port's TLS certificate.
type Certificate struct {
	TLS tls.Certificate
	// Fingerprint is the SHA-256 of the certificate's DER, in hex: what the
	// engineer compares with the browser's before trusting it.
	Fingerprint string
	// Created reports that this start generated it.
	Created bool
}

// LoadOrCreateCertificate returns the certificate kept in dir (cert.pem and
// key.pem), generating a self-signed ECDSA P-256 one on first use. names are
// the host names and addresses the certificate is made for, besides
// localhost and the loopback addresses. The key file is mode 0600 and is
// never rewritten once it exists.
func LoadOrCreateCertificate(dir string, names ...string) (Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_, cerr := os.Stat(certPath)
	_, kerr := os.Stat(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		return loadCertificate(certPath, keyPath)
	case errors.Is(cerr, os.ErrNotExist) && errors.Is(kerr, os.ErrNotExist):
	case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
		return Certificate{}, fmt.Errorf("management certificate: %w", cerr)
	case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
		return Certificate{}, fmt.Errorf("management key: %w", kerr)
	default:
		// One half without the other: do not silently replace a key an
		// engineer's browser may already trust.
		return Certificate{}, fmt.Errorf("management certificate: %s and %s must both exist or both be absent", certPath, keyPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Firebreak appliance console", Organization: []string{"Firebreak"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			if !ip.IsUnspecified() && !ip.IsLoopback() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if n != "" && n != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Certificate{}, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Certificate{}, err
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return Certificate{}, err
	}
	if err := writeNew(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		os.Remove(keyPath)
		return Certificate{}, err
	}
	c, err := loadCertificate(certPath, keyPath)
	c.Created = true
	return c, err
}

func loadCertificate(certPath, keyPath string) (Certificate, error) {
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return Certificate{}, fmt.Errorf("management key %s is readable by others (mode %v); chmod 600 it", keyPath, fi.Mode().Perm())
	}
	tc, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return Certificate{}, fmt.Errorf("management certificate: %w", err)
	}
	sum := sha256.Sum256(tc.Certificate[0])
	return Certificate{TLS: tc, Fingerprint: hex.EncodeToString(sum[:])}, nil
}

// writeNew writes b to a new file at path, fsynced, failing if it exists.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
