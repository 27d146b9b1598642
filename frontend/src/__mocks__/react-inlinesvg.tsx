// Icons load SVGs over the network in the browser; render a plain <svg> in tests instead.

type Props = { src?: string; title?: string; className?: string; innerRef?: unknown; cacheRequests?: boolean };

export default function InlineSVG({ src, title, className }: Props) {
  return <svg data-src={src} className={className} aria-label={title} />;
}
export const cacheStore = {};
