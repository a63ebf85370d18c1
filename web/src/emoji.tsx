//! The emoji picker (`emoji-picker-element`, as the original): its code is a separate chunk
//! fetched the first time a picker opens, and its data comes from this worker's static files
//! (the build puts the hashed URL in `__EMOJI_DATA_URL__`), never from a CDN.

import { useEffect, useRef, useState } from 'preact/hooks';

declare const __EMOJI_DATA_URL__: string;

let loading: Promise<unknown> | null = null;

function loadPicker(): Promise<unknown> {
  loading ??= import('emoji-picker-element/picker.js');
  return loading;
}

interface Props {
  label: string;
  onPick: (emoji: string) => void;
  onClose: () => void;
}

/** A picker in a popover; Esc or a click outside closes it. */
export function EmojiPopover({ label, onPick, onClose }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let picker: HTMLElement | null = null;
    const onEmoji = (e: Event) => {
      const unicode = (e as CustomEvent<{ unicode?: string }>).detail?.unicode;
      if (unicode) onPick(unicode);
    };
    loadPicker()
      .then(() => {
        if (!host.current) return;
        picker = document.createElement('emoji-picker');
        (picker as HTMLElement & { dataSource: string }).dataSource = __EMOJI_DATA_URL__;
        picker.addEventListener('emoji-click', onEmoji);
        host.current.appendChild(picker);
        setReady(true);
        // Focus the picker's search box so typing filters at once.
        requestAnimationFrame(() => (picker?.shadowRoot?.querySelector('input') as HTMLInputElement | null)?.focus());
      })
      .catch(() => setFailed(true));
    return () => {
      picker?.removeEventListener('emoji-click', onEmoji);
      picker?.remove();
    };
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
    };
    const onDown = (e: PointerEvent) => {
      if (host.current && !host.current.contains(e.target as Node)) onClose();
    };
    document.addEventListener('keydown', onKey, true);
    const t = setTimeout(() => document.addEventListener('pointerdown', onDown), 0);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      document.removeEventListener('pointerdown', onDown);
      clearTimeout(t);
    };
  }, [onClose]);

  return (
    <div class="emoji-popover" ref={host} role="dialog" aria-label={label}>
      {!ready && !failed && <div class="emoji-loading">Loading emoji…</div>}
      {failed && <div class="emoji-loading">Couldn't load the emoji picker.</div>}
    </div>
  );
}
