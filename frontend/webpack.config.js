// Production bundle for Grafana, following the conventions of @grafana/create-plugin's
// webpack config (AMD module, Grafana-provided libraries as externals, module.js.map,
// plugin.json copied with %VERSION%/%TODAY% replaced). Written by hand: create-plugin's
// scaffolding fetches templates from the network.
//
// Every library Grafana shares with plugins stays external: a second copy inside module.js breaks
// on a Grafana whose copy differs. `react/jsx-runtime` matters most: SWC's automatic JSX runtime
// imports it, and React 18's copy bundled here reads React internals that React 19 (Grafana
// >= 13.2) no longer has ("Cannot read properties of undefined (reading 'ReactCurrentOwner')").
// The browser suite (browser/) loads module.js on both React versions; its negative control builds
// with `--env bundleJsxRuntime --env outDir=<dir>` (React's JSX runtime bundled again, into
// another directory) and checks that the suite sees the React 19 start-up failure.
const path = require('path');
const fs = require('fs');
const CopyWebpackPlugin = require('copy-webpack-plugin');

const pkg = require('./package.json');
const pluginJsonPath = path.resolve(__dirname, '..', 'plugin.json');
const pluginJson = JSON.parse(fs.readFileSync(pluginJsonPath, 'utf8'));
const pluginId = pluginJson.id;

function today() {
  // SOURCE_DATE_EPOCH (seconds) makes the build reproducible when set.
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const d = epoch ? new Date(Number(epoch) * 1000) : new Date();
  return d.toISOString().slice(0, 10);
}

function fillPlaceholders(content) {
  return content.toString().replace(/%VERSION%/g, pkg.version).replace(/%TODAY%/g, today());
}

module.exports = (env = {}) => {
  const production = Boolean(env.production);
  const bundled = env.bundleJsxRuntime ? ['react/jsx-runtime', 'react/jsx-dev-runtime'] : [];
  return {
    mode: production ? 'production' : 'development',
    context: path.join(__dirname, 'src'),
    devtool: 'source-map',
    entry: { module: './module.ts' },
    target: 'web',
    externals: [
      // Required for dynamic publicPath resolution (same as create-plugin)
      { 'amd-module': 'module' },
      'lodash',
      'jquery',
      'moment',
      'slate',
      'emotion',
      '@emotion/react',
      '@emotion/css',
      'prismjs',
      'slate-plain-serializer',
      '@grafana/slate-react',
      'react',
      'react-dom',
      ...['react/jsx-runtime', 'react/jsx-dev-runtime'].filter((m) => !bundled.includes(m)),
      'react-redux',
      'redux',
      'rxjs',
      'i18next',
      'react-router',
      'react-router-dom',
      'd3',
      'angular',
      /^@grafana\/ui/i,
      /^@grafana\/runtime/i,
      /^@grafana\/data/i,
      ({ request }, callback) => {
        // legacy "grafana/..." SDK imports
        const prefix = 'grafana/';
        if (request && request.indexOf(prefix) === 0) {
          return callback(undefined, request.slice(prefix.length));
        }
        callback();
      },
    ],
    output: {
      clean: { keep: /gpx_/ },
      filename: '[name].js',
      library: { type: 'amd' },
      path: env.outDir ? path.resolve(env.outDir) : path.resolve(__dirname, 'dist'),
      publicPath: `public/plugins/${pluginId}/`,
      uniqueName: pluginId,
    },
    resolve: {
      extensions: ['.ts', '.tsx', '.js', '.jsx'],
      unsafeCache: true,
    },
    module: {
      rules: [
        {
          exclude: /node_modules/,
          test: /\.[tj]sx?$/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                baseUrl: path.resolve(__dirname, 'src'),
                target: 'es2015',
                loose: false,
                parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
                transform: { react: { runtime: 'automatic' } },
              },
            },
          },
        },
        {
          test: /\.(png|jpe?g|gif|svg)$/,
          type: 'asset/resource',
          generator: { filename: 'img/[name][ext]' },
        },
      ],
    },
    performance: { hints: false },
    plugins: [
      new CopyWebpackPlugin({
        patterns: [
          { from: pluginJsonPath, to: 'plugin.json', transform: fillPlaceholders },
          { from: 'img/**/*', to: '.', noErrorOnMissing: false },
          { from: path.resolve(__dirname, '..', 'README.md'), to: 'README.md', noErrorOnMissing: true },
          { from: path.resolve(__dirname, '..', 'CHANGELOG.md'), to: 'CHANGELOG.md', noErrorOnMissing: true },
          { from: path.resolve(__dirname, '..', 'LICENSE'), to: 'LICENSE', noErrorOnMissing: true },
        ],
      }),
    ],
  };
};
