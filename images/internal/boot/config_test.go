package boot

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Config
		args     string
		err      string
	}{
		{name: "empty", in: "", args: "serve --data D --manage 0.0.0.0:443"},
		{name: "shipped file", in: "# comment\n\nmgmt_address=dhcp\nmanage_port=443\nmode=\n#ports=\n",
			want: Config{MgmtAddress: "dhcp", ManagePort: 443}, args: "serve --data D --manage 0.0.0.0:443"},
		{name: "bridge", in: "mgmt_port=52:54:00:fb:00:00\nmode=bridge\nports=port1 port2\nbridge=br9\n",
			want: Config{MgmtPort: "52:54:00:fb:00:00", Mode: "bridge", Ports: []string{"port1", "port2"}, Bridge: "br9"},
			args: "serve --data D --manage 0.0.0.0:443 --mode bridge --bridge br9 --port port1 --port port2"},
		{name: "static", in: "mgmt_address = 192.0.2.10/24\nmgmt_gateway=192.0.2.1\nmanage_port=8443",
			want: Config{MgmtAddress: "192.0.2.10/24", MgmtGateway: "192.0.2.1", ManagePort: 8443},
			args: "serve --data D --manage 0.0.0.0:8443"},
		{name: "router needs no ports", in: "mode=router", want: Config{Mode: "router"}, args: "serve --data D --manage 0.0.0.0:443 --mode router"},
		{name: "unknown key", in: "mgmt_prot=eth0", err: `line 1: unknown setting "mgmt_prot"`},
		{name: "no equals", in: "\nmode bridge", err: `line 2: want key=value`},
		{name: "bad address", in: "mgmt_address=10.0.0.5", err: "want dhcp or ADDRESS/PREFIX"},
		{name: "bad port", in: "manage_port=0443x", err: "want a TCP port number"},
		{name: "port out of range", in: "manage_port=70000", err: "want a TCP port number"},
		{name: "bad mode", in: "mode=inline", err: `mode "inline"`},
		{name: "bridge without ports", in: "mode=bridge", err: "mode=bridge needs ports="},
		{name: "gateway without static", in: "mgmt_gateway=192.0.2.1", err: "mgmt_gateway needs a static mgmt_address"},
		{name: "bad link name", in: "mode=port\nports=averyveryverylongname", err: "is not a link name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tc.in))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
			assert.Equal(t, tc.args, strings.Join(c.serveArgs("D"), " "))
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("mode=bridge\nports=port1 port2\n")
	f.Add("mgmt_address=192.0.2.10/24\nmgmt_gateway=192.0.2.1\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, a := range c.serveArgs("D") {
			if a == "" {
				t.Fatalf("empty argument from %q", in)
			}
		}
	})
}
