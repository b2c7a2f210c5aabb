//! Bounds-checked native-endian field reads shared by the parsers.
//!
//! Netlink is host-endian (the kernel and its user live on one machine), so
//! every integer is read with `from_ne_bytes`. Each helper returns `None`
//! instead of panicking when the field does not fit.

/// `N` bytes starting at `at`, if they are all inside `buf`.
#[inline]
pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    buf.get(at..end)?.try_into().ok()
}

#[inline]
pub(crate) fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    array_at(buf, at).map(u16::from_ne_bytes)
}

#[inline]
pub(crate) fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    array_at(buf, at).map(u32::from_ne_bytes)
}

#[inline]
pub(crate) fn i32_at(buf: &[u8], at: usize) -> Option<i32> {
    array_at(buf, at).map(i32::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_outside() {
        let buf = 0x0403_0201u32.to_ne_bytes();
        assert_eq!(u32_at(&buf, 0), Some(0x0403_0201));
        assert_eq!(u16_at(&buf, 2), Some(u16::from_ne_bytes([3, 4])));
        assert_eq!(u16_at(&buf, 3), None);
        assert_eq!(i32_at(&buf, 1), None);
        assert_eq!(u32_at(&buf, usize::MAX), None);
    }
}
