// Grafana's boot data, set before @grafana/runtime reads it at import time (its `config`).
// `theme` picks the theme; the rest are the settings @grafana/runtime and @grafana/ui read.
const w = window as unknown as Record<string, unknown>;
w.grafanaBootData = {
  assets: { dark: '', light: '' },
  settings: {
    appSubUrl: '',
    appUrl: `${window.location.origin}/`,
    buildInfo: { version: (w.__hostGrafanaVersion as string) ?? '13', env: 'production', edition: 'Open Source' },
    featureToggles: {},
    datasources: {},
    panels: {},
    apps: {},
    theme2: undefined,
  },
  user: { theme: 'dark', timezone: 'utc', locale: 'en-US', language: 'en-US' },
  navTree: [],
};
// Where @grafana/ui looks for icons (public/build/img/icons) and fonts; the runner serves them.
w.__grafana_public_path__ = '/public/';
