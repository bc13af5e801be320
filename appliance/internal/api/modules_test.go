package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
)

func TestListModules(t *testing.T) {
	st, err := modstore.Open(t.TempDir())
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	require.NoError(t, listModules(&Server{cfg: Config{Modules: st}}, rec, httptest.NewRequest("GET", "/api/v1/modules", nil), auth.Caller{}))
	require.Equal(t, 200, rec.Code)
	var got []modstore.Module
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	pkgs, _ := firstparty.Packages()
	require.Len(t, got, len(pkgs), "every embedded module is listed (none when the build did not embed them)")
	for _, m := range got {
		require.Empty(t, m.Refused, m.Name)
		require.Equal(t, "first-party", m.Signer, m.Name)
		if m.Kind == "detect" {
			require.NotEmpty(t, m.Techniques, m.Name)
		}
		require.True(t, m.Enabled, m.Name)
		require.Equal(t, modstore.Embedded, m.Source)
	}
}
