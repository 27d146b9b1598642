import '@testing-library/jest-dom';
import { TextDecoder, TextEncoder } from 'util';

// Browser APIs that jsdom lacks but @grafana/ui touches (same shims as create-plugin's jest-setup).
Object.assign(global, { TextEncoder, TextDecoder });

if (!window.matchMedia) {
  Object.defineProperty(window, 'matchMedia', {
    writable: true,
    value: (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: jest.fn(),
      removeListener: jest.fn(),
      addEventListener: jest.fn(),
      removeEventListener: jest.fn(),
      dispatchEvent: jest.fn(),
    }),
  });
}

class ResizeObserverStub {
  observe() {}
  unobserve() {}
  disconnect() {}
}
if (!(global as any).ResizeObserver) {
  (global as any).ResizeObserver = ResizeObserverStub;
}
if (!(window as any).IntersectionObserver) {
  (window as any).IntersectionObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  };
}
if (!HTMLCanvasElement.prototype.getContext || !(HTMLCanvasElement.prototype as any).__stubbed) {
  Object.defineProperty(HTMLCanvasElement.prototype, 'getContext', {
    value: () => null,
    configurable: true,
  });
  (HTMLCanvasElement.prototype as any).__stubbed = true;
}

// i18next (loaded by @grafana/ui) advertises itself on console.info at start-up; keep test output clean.
const originalInfo = console.info;
console.info = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next')) {
    return;
  }
  originalInfo(...args);
};
