//! Users and groups of the box, from `<root>/etc/passwd` and `<root>/etc/group`
//! (never the host's NSS).

use anyhow::{anyhow, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    /// The home directory (field 6).
    pub home: String,
}

/// Look up `user` in the text of a passwd file.
pub fn lookup_user(passwd: &str, user: &str) -> Result<Account> {
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 6 && f[0] == user {
            let uid = f[2]
                .parse()
                .map_err(|_| anyhow!("/etc/passwd: bad uid for {user}: {:?}", f[2]))?;
            let gid = f[3]
                .parse()
                .map_err(|_| anyhow!("/etc/passwd: bad gid for {user}: {:?}", f[3]))?;
            return Ok(Account {
                uid,
                gid,
                home: f[5].to_string(),
            });
        }
    }
    Err(anyhow!(
        "user {user} does not exist in /etc/passwd (create it, or set `user` in the config)"
    ))
}

/// The groups (name, gid) of `user` in the text of a group file: its primary group
/// `gid`, and every group that lists it as a member.
pub fn groups_of(group: &str, user: &str, gid: Option<u32>) -> Vec<(String, u32)> {
    group
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            let g: u32 = f.get(2)?.parse().ok()?;
            let member = f
                .get(3)
                .is_some_and(|m| m.split(',').any(|u| u.trim() == user));
            (gid == Some(g) || member).then(|| (f[0].to_string(), g))
        })
        .collect()
}

/// The name of group `gid` in the text of a group file, if any.
pub fn group_name(group: &str, gid: u32) -> Option<String> {
    group.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[2].parse() == Ok(gid)).then(|| f[0].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_user_and_group() {
        let p =
            "root:x:0:0:root:/root:/bin/bash\nec2-user:x:500:500:EC2:/home/ec2-user:/bin/bash\n";
        assert_eq!(
            lookup_user(p, "ec2-user").unwrap(),
            Account {
                uid: 500,
                gid: 500,
                home: "/home/ec2-user".into()
            }
        );
        assert!(lookup_user(p, "ec2").is_err());
        assert_eq!(
            group_name("ec2-user:x:500:\n", 500).as_deref(),
            Some("ec2-user")
        );
    }
}
