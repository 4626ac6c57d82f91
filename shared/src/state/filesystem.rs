//! Whether a folder is on a network file system, where SQLite must not run: its WAL mode needs
//! shared memory between the processes using the database, which a network file system does
//! not give, and its locking over NFS and SMB is unreliable
//! (<https://www.sqlite.org/wal.html>, <https://www.sqlite.org/faq.html#q5>). On Azure
//! Functions' Consumption and Elastic Premium plans `$HOME` is an Azure Files (SMB) share
//! (<https://learn.microsoft.com/en-us/azure/azure-functions/storage-considerations>).
//!
//! Read from `/proc/self/mounts` (Linux, where the cloud hosts run); elsewhere nothing is known
//! and nothing is refused.

use std::path::{Path, PathBuf};

/// File system types that live across a network.
const NETWORK: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "lustre",
    "davfs",
    "fuse.sshfs",
    "fuse.s3fs",
    "fuse.blobfuse",
    "fuse.blobfuse2",
    "fuse.gcsfuse",
];

/// The network file system type `path` is on, if it is on one.
pub fn network_filesystem(path: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    // The folder may not exist yet: its nearest existing ancestor decides.
    let mut existing = path.to_path_buf();
    while !existing.exists() {
        existing = existing.parent()?.to_path_buf();
    }
    let resolved = existing.canonicalize().ok()?;
    network_in(&mounts, &resolved)
}

/// The network file system type of the mount holding `path` (absolute, resolved), per a
/// `/proc/mounts` text.
pub fn network_in(mounts: &str, path: &Path) -> Option<String> {
    let (_, fstype) = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, fstype) = (fields.next()?, fields.next()?, fields.next()?);
            Some((PathBuf::from(unescape(point)), fstype.to_string()))
        })
        .filter(|(point, _)| path.starts_with(point))
        // The deepest mount point holding the path; of two on the same point, the later.
        .max_by_key(|(point, _)| point.components().count())?;
    let network = NETWORK.contains(&fstype.as_str()) || fstype.starts_with("nfs");
    network.then_some(fstype)
}

/// `/proc/mounts` writes a space, tab, newline and backslash in a path as `\040`, `\011`,
/// `\012` and `\134`.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
            out.push(value as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
overlay / overlay rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
tmpfs /tmp tmpfs rw,nosuid 0 0
//contoso.file.core.windows.net/share /home cifs rw,vers=3.1.1 0 0
/dev/sdb1 /home/site/local ext4 rw 0 0
server:/export /mnt/nfs\\040share nfs4 rw 0 0
";

    #[test]
    fn the_deepest_mount_holding_the_path_decides() {
        let on = |p: &str| network_in(MOUNTS, Path::new(p));
        // $HOME on an Azure Files share: refused.
        assert_eq!(on("/home/data/entra-monitor"), Some("cifs".into()));
        // A local disk mounted inside the share, and local folders elsewhere: fine.
        assert_eq!(on("/home/site/local/entra-monitor"), None);
        assert_eq!(on("/tmp/entra-monitor"), None);
        assert_eq!(on("/var/lib/entra-monitor"), None);
        // A mount point with a space, written escaped.
        assert_eq!(on("/mnt/nfs share/state"), Some("nfs4".into()));
        // A sibling whose name only starts like the mount point is not inside it.
        assert_eq!(on("/homework"), None);
    }

    #[test]
    fn this_machines_temporary_folder_is_local() {
        // The tests run on local disk or tmpfs; the check reads the real mount table.
        assert_eq!(network_filesystem(&std::env::temp_dir().join("x/y")), None);
    }
}
