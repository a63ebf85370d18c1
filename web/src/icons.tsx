//! Small inline SVG icons (no icon font, nothing fetched). Decorative: the buttons that hold
//! them carry the accessible name.

import type { JSX } from 'preact';

function Icon({ d, size = 18 }: { d: string; size?: number }): JSX.Element {
  return (
    <svg class="icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d={d} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

export const PlusIcon = () => <Icon d="M12 5v14M5 12h14" />;
export const SearchIcon = () => <Icon d="M11 19a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm10 2-4.35-4.35" />;
export const SendIcon = () => <Icon d="M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z" />;
export const SmileIcon = () => (
  <Icon d="M12 22a10 10 0 1 1 0-20 10 10 0 0 1 0 20zM8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01" />
);
export const MoreIcon = () => <Icon d="M12 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2zm0-7a1 1 0 1 0 0-2 1 1 0 0 0 0 2zm0 14a1 1 0 1 0 0-2 1 1 0 0 0 0 2z" />;
export const DotsIcon = () => <Icon d="M5 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2zm7 0a1 1 0 1 0 0-2 1 1 0 0 0 0 2zm7 0a1 1 0 1 0 0-2 1 1 0 0 0 0 2z" />;
export const UsersIcon = () => (
  <Icon d="M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm14 10v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75" />
);
export const LeaveIcon = () => <Icon d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9" />;
export const TrashIcon = () => <Icon d="M3 6h18M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2m3 0-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6" />;
export const EditIcon = () => <Icon d="M12 20h9M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4L16.5 3.5z" />;
export const CloseIcon = () => <Icon d="M18 6 6 18M6 6l12 12" />;
export const BackIcon = () => <Icon d="M15 18l-6-6 6-6" />;
export const ChatIcon = ({ size = 18 }: { size?: number }) => (
  <Icon size={size} d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z" />
);
export const LockIcon = ({ size = 18 }: { size?: number }) => (
  <Icon size={size} d="M6 11h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1zm2 0V7a4 4 0 1 1 8 0v4" />
);
export const ExpandIcon = () => <Icon d="M15 3h6v6M9 21H3v-6M21 3l-7 7M3 21l7-7" />;
export const HashIcon = () => <Icon d="M4 9h16M4 15h16M10 3 8 21M16 3l-2 18" />;
export const ArrowDownIcon = () => <Icon d="M12 5v14M19 12l-7 7-7-7" />;
