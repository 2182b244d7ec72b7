//! Keyset paging: a request names a limit and the opaque cursor of the last item seen; a page
//! carries the cursor of its last item when more follow. Cursors are base64url text, so callers
//! treat them as opaque and the sort key can change without breaking clients' parsing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// 1 to [`PageRequest::MAX_LIMIT`].
    pub limit: u32,
    /// The decoded cursor of the last item already seen.
    pub after: Option<String>,
}

/// A bad cursor or limit, named by its parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("`after` is not a cursor returned by this list")]
    Cursor,
    #[error("`limit` must be between 1 and {max}")]
    Limit { max: u32 },
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    /// Builds a request from query parameters.
    pub fn parse(limit: Option<u32>, after: Option<&str>) -> Result<Self, PageError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(PageError::Limit { max: Self::MAX_LIMIT });
        }
        let after = after.map(decode_cursor).transpose()?;
        Ok(Self { limit, after })
    }

    /// How many rows to fetch: one more than the limit, to learn whether a next page exists.
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Cuts `rows` (fetched with [`PageRequest::fetch`]) to the limit and sets `next` from the
    /// last kept item's sort key.
    pub(crate) fn from_rows(mut rows: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<String, PageError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| PageError::Cursor)?;
    let text = String::from_utf8(bytes).map_err(|_| PageError::Cursor)?;
    if text.is_empty() || text.contains('\0') {
        return Err(PageError::Cursor);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_at_the_limit_and_point_past_their_last_item() {
        let request = PageRequest::first(2);
        let page = Page::from_rows(vec!["a", "b", "c"], &request, |s| (*s).to_owned());
        assert_eq!(page.items, vec!["a", "b"]);
        let next = page.next.unwrap();
        assert_eq!(
            PageRequest::parse(Some(2), Some(&next)).unwrap().after.as_deref(),
            Some("b")
        );
        let last = Page::from_rows(vec!["a", "b"], &request, |s| (*s).to_owned());
        assert_eq!(last.next, None);
    }

    #[test]
    fn bad_limits_and_cursors_are_refused() {
        assert_eq!(
            PageRequest::parse(Some(0), None),
            Err(PageError::Limit { max: 500 })
        );
        assert_eq!(
            PageRequest::parse(Some(501), None),
            Err(PageError::Limit { max: 500 })
        );
        assert_eq!(PageRequest::parse(None, Some("!!")), Err(PageError::Cursor));
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
    }
}
