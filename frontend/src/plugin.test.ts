import fs from 'fs';
import path from 'path';

import { plugin } from './module';

const pluginJson = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'plugin.json'), 'utf8'));

describe('plugin.json', () => {
  it('declares the Lantern backend datasource', () => {
    expect(pluginJson).toMatchObject({
      type: 'datasource',
      id: 'lantern-clickhouse-datasource',
      backend: true,
      executable: 'gpx_lantern',
      alerting: true,
      logs: true,
      tracing: true,
      metrics: true,
      annotations: true,
      dependencies: { grafanaDependency: '>=13.1.0' },
    });
    expect(pluginJson.id).toMatch(/^[0-9a-z]+-([0-9a-z]+-)?(app|panel|datasource)$/);
    expect(pluginJson.name).not.toBe(pluginJson.id);
  });

  it('has the info block the schema requires, with build placeholders', () => {
    const { info } = pluginJson;
    expect(info.version).toBe('%VERSION%');
    expect(info.updated).toBe('%TODAY%');
    expect(info.keywords.length).toBeGreaterThan(0);
    for (const logo of [info.logos.small, info.logos.large]) {
      expect(fs.existsSync(path.resolve(__dirname, logo))).toBe(true);
    }
  });

  it('lists the committed screenshots (PNG files the build copies into img/)', () => {
    const shots: Array<{ name: string; path: string }> = pluginJson.info.screenshots;
    expect(shots.length).toBeGreaterThan(0);
    for (const shot of shots) {
      expect(shot.name).not.toBe('');
      expect(shot.path).toMatch(/^img\/screenshots\/[a-z0-9-]+\.png$/);
      const file = fs.readFileSync(path.resolve(__dirname, shot.path));
      expect(file.subarray(1, 4).toString()).toBe('PNG');
    }
  });
});

describe('module', () => {
  it('registers the config and query editors', () => {
    expect(plugin.components.ConfigEditor).toBeDefined();
    expect(plugin.components.QueryEditor).toBeDefined();
  });
});
