/** Fixed row height of the contact list in px: two lines of text plus padding. */
export const CONTACT_ROW_HEIGHT = 56;

/** Search waits this long after the last keystroke: skips intermediate queries, still feels instant. */
export const SEARCH_DEBOUNCE_MS = 150;
