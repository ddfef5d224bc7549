//! [`Numeric`]: the three-digit replies of RFC 1459 / 2812 and the modern
//! IRC documents, with their conventional names.

use std::fmt;

/// A numeric reply, such as `001` (`RPL_WELCOME`) or `433`
/// (`ERR_NICKNAMEINUSE`).
///
/// ```
/// use torsion_irc::Numeric;
///
/// let numeric = Numeric::from_command("433").unwrap();
/// assert_eq!(numeric, Numeric::ERR_NICKNAMEINUSE);
/// assert_eq!(numeric.name(), Some("ERR_NICKNAMEINUSE"));
/// assert!(numeric.is_error());
/// assert_eq!(Numeric::RPL_WELCOME.to_string(), "001");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Numeric(pub u16);

macro_rules! numerics {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        impl Numeric {
            $($(#[$doc])* pub const $name: Numeric = Numeric($code);)*

            /// The conventional name, for the replies this crate knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

numerics! {
    /// `001`: registration succeeded; the first parameter is the nickname.
    RPL_WELCOME = 1,
    /// `002`: the server's name and version.
    RPL_YOURHOST = 2,
    /// `003`: when the server started.
    RPL_CREATED = 3,
    /// `004`: server name, version, user and channel modes.
    RPL_MYINFO = 4,
    /// `005`: what the server supports (`CHANTYPES=#`, `NICKLEN=30`, ...).
    RPL_ISUPPORT = 5,
    /// `221`: the user's modes.
    RPL_UMODEIS = 221,
    /// `315`: end of a WHO list.
    RPL_ENDOFWHO = 315,
    /// `324`: a channel's modes.
    RPL_CHANNELMODEIS = 324,
    /// `331`: a channel has no topic.
    RPL_NOTOPIC = 331,
    /// `332`: a channel's topic.
    RPL_TOPIC = 332,
    /// `333`: who set the topic, and when.
    RPL_TOPICWHOTIME = 333,
    /// `352`: one entry of a WHO list.
    RPL_WHOREPLY = 352,
    /// `353`: nicknames in a channel.
    RPL_NAMREPLY = 353,
    /// `366`: end of a NAMES list.
    RPL_ENDOFNAMES = 366,
    /// `372`: a line of the message of the day.
    RPL_MOTD = 372,
    /// `375`: start of the message of the day.
    RPL_MOTDSTART = 375,
    /// `376`: end of the message of the day.
    RPL_ENDOFMOTD = 376,
    /// `401`: no such nickname.
    ERR_NOSUCHNICK = 401,
    /// `403`: no such channel.
    ERR_NOSUCHCHANNEL = 403,
    /// `404`: cannot send to the channel (not a member).
    ERR_CANNOTSENDTOCHAN = 404,
    /// `410`: an unknown CAP subcommand.
    ERR_INVALIDCAPCMD = 410,
    /// `411`: PRIVMSG or NOTICE without a recipient.
    ERR_NORECIPIENT = 411,
    /// `412`: PRIVMSG or NOTICE without text.
    ERR_NOTEXTTOSEND = 412,
    /// `417`: the line was too long and was dropped.
    ERR_INPUTTOOLONG = 417,
    /// `421`: an unknown command.
    ERR_UNKNOWNCOMMAND = 421,
    /// `422`: the server has no message of the day.
    ERR_NOMOTD = 422,
    /// `431`: NICK without a nickname.
    ERR_NONICKNAMEGIVEN = 431,
    /// `432`: a nickname that is not allowed.
    ERR_ERRONEUSNICKNAME = 432,
    /// `433`: the nickname is taken.
    ERR_NICKNAMEINUSE = 433,
    /// `436`: a nickname collision between servers.
    ERR_NICKCOLLISION = 436,
    /// `442`: not a member of that channel.
    ERR_NOTONCHANNEL = 442,
    /// `451`: a command that needs registration first.
    ERR_NOTREGISTERED = 451,
    /// `461`: a command with too few parameters.
    ERR_NEEDMOREPARAMS = 461,
    /// `462`: registering twice.
    ERR_ALREADYREGISTERED = 462,
    /// `476`: a channel name that is not allowed.
    ERR_BADCHANMASK = 476,
    /// `482`: the command needs channel operator rights.
    ERR_CHANOPRIVSNEEDED = 482,
    /// `501`: an unknown user mode.
    ERR_UMODEUNKNOWNFLAG = 501,
}

impl Numeric {
    /// The numeric of a command of exactly three digits.
    pub fn from_command(command: &str) -> Option<Numeric> {
        if command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit()) {
            command.parse().ok().map(Numeric)
        } else {
            None
        }
    }

    /// Replies 400 to 599 are errors.
    pub fn is_error(self) -> bool {
        (400..600).contains(&self.0)
    }

    /// The three digits, as a command.
    pub fn as_command(self) -> String {
        format!("{:03}", self.0)
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_digits_make_a_numeric() {
        assert_eq!(Numeric::from_command("001"), Some(Numeric::RPL_WELCOME));
        assert_eq!(Numeric::from_command("1"), None);
        assert_eq!(Numeric::from_command("0001"), None);
        assert_eq!(Numeric::from_command("+12"), None);
        assert_eq!(Numeric::from_command("999").unwrap().name(), None);
    }
}
