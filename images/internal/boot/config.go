package boot

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// ConfigFile is the appliance's settings file, on the boot (EFI system)
// partition so that an engineer can edit it from any computer.
const ConfigFile = "firebreak.cfg"

// Config is what firebreak.cfg sets. The zero value is the default: the
// first network port is the management port, on DHCP, and containment is off.
type Config struct {
	// MgmtPort names the management port by its kernel name (eth0) or its
	// MAC address; empty: the first port in PCI order.
	MgmtPort string
	// MgmtAddress is "dhcp" (or empty) or a static address with its prefix
	// length, e.g. 192.0.2.10/24.
	MgmtAddress string
	// MgmtGateway is the default gateway with a static MgmtAddress.
	MgmtGateway string
	// ManagePort is the TCP port of the HTTPS console on the management
	// address; 0 means 443.
	ManagePort int
	// Mode is the containment mode passed to firebreak serve --mode:
	// bridge, router, port or empty (containment off).
	Mode string
	// Ports are the links containment uses (firebreak serve --port): port1,
	// port2... are the ports other than the management port, in bus order.
	Ports []string
	// Bridge is the bridge name in bridge mode; empty: the daemon's default.
	Bridge string
}

// ParseConfig reads firebreak.cfg: lines of key=value, # comments, blank
// lines. Unknown keys and bad values are errors, so that a typo never
// silently leaves the box in a state the engineer did not ask for.
func ParseConfig(r io.Reader) (Config, error) {
	var c Config
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return Config{}, fmt.Errorf("%s line %d: want key=value, got %q", ConfigFile, n, line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if err := c.set(key, val); err != nil {
			return Config{}, fmt.Errorf("%s line %d: %w", ConfigFile, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("read %s: %w", ConfigFile, err)
	}
	if c.MgmtGateway != "" && (c.MgmtAddress == "" || c.MgmtAddress == "dhcp") {
		return Config{}, fmt.Errorf("%s: mgmt_gateway needs a static mgmt_address", ConfigFile)
	}
	if c.Mode != "" && len(c.Ports) == 0 && c.Mode != "router" {
		return Config{}, fmt.Errorf("%s: mode=%s needs ports=", ConfigFile, c.Mode)
	}
	return c, nil
}

func (c *Config) set(key, val string) error {
	switch key {
	case "mgmt_port":
		if strings.ContainsAny(val, " \t/") {
			return fmt.Errorf("mgmt_port %q: want a port name or a MAC address", val)
		}
		c.MgmtPort = val
	case "mgmt_address":
		if val != "dhcp" && val != "" {
			if _, err := netip.ParsePrefix(val); err != nil {
				return fmt.Errorf("mgmt_address %q: want dhcp or ADDRESS/PREFIX", val)
			}
		}
		c.MgmtAddress = val
	case "mgmt_gateway":
		if _, err := netip.ParseAddr(val); err != nil {
			return fmt.Errorf("mgmt_gateway %q: want an IP address", val)
		}
		c.MgmtGateway = val
	case "manage_port":
		var p int
		if _, err := fmt.Sscanf(val, "%d", &p); err != nil || p < 1 || p > 65535 || fmt.Sprint(p) != val {
			return fmt.Errorf("manage_port %q: want a TCP port number", val)
		}
		c.ManagePort = p
	case "mode":
		switch val {
		case "", "bridge", "router", "port":
		default:
			return fmt.Errorf("mode %q: want bridge, router, port or nothing", val)
		}
		c.Mode = val
	case "ports":
		c.Ports = nil
		for _, p := range strings.FieldsFunc(val, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
			if len(p) > 15 || strings.Contains(p, "/") {
				return fmt.Errorf("ports: %q is not a link name", p)
			}
			c.Ports = append(c.Ports, p)
		}
	case "bridge":
		if len(val) > 15 || strings.ContainsAny(val, " \t/") {
			return fmt.Errorf("bridge %q is not a link name", val)
		}
		c.Bridge = val
	default:
		return fmt.Errorf("unknown setting %q", key)
	}
	return nil
}

// serveArgs is the firebreak serve command line for this configuration.
func (c Config) serveArgs(dataDir string) []string {
	port := c.ManagePort
	if port == 0 {
		port = 443
	}
	args := []string{"serve", "--data", dataDir, "--manage", fmt.Sprintf("0.0.0.0:%d", port)}
	if c.Mode != "" {
		args = append(args, "--mode", c.Mode)
		if c.Bridge != "" {
			args = append(args, "--bridge", c.Bridge)
		}
		for _, p := range c.Ports {
			args = append(args, "--port", p)
		}
	}
	return args
}
