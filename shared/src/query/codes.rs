//! Entra sign-in result codes (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>), as data: what each means and how it counts in
//! a status breakdown. Microsoft changes codes and texts; an unknown code is a failure with no
//! meaning given.

/// How a result code counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    /// Part of a normal flow (an MFA challenge, "Keep me signed in", a silent SSO miss).
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Interrupted => "interrupted",
        }
    }
}

/// The codes the detections read.
pub const INVALID_PASSWORD: &str = "50126";
pub const ACCOUNT_LOCKED: &str = "50053";
pub const PASSWORD_EXPIRED: &str = "50055";
pub const ACCOUNT_DISABLED: &str = "50057";
/// The strong-authentication (MFA) step failed or was denied.
pub const MFA_FAILED: &str = "500121";

const CODES: &[(&str, &str, Status)] = &[
    ("0", "Success", Status::Success),
    (
        INVALID_PASSWORD,
        "Invalid username or password",
        Status::Failure,
    ),
    (
        ACCOUNT_LOCKED,
        "Account locked, or sign-in from a malicious IP blocked",
        Status::Failure,
    ),
    (PASSWORD_EXPIRED, "Password expired", Status::Failure),
    (
        "50056",
        "No password in the directory for the user",
        Status::Failure,
    ),
    (ACCOUNT_DISABLED, "User account disabled", Status::Failure),
    ("50034", "User not found in the tenant", Status::Failure),
    (
        "50058",
        "Not enough session information for single sign-on",
        Status::Interrupted,
    ),
    (
        "50072",
        "User must enrol a second factor",
        Status::Interrupted,
    ),
    (
        "50074",
        "Strong authentication required",
        Status::Interrupted,
    ),
    (
        "50076",
        "Multi-factor authentication required by policy or location change",
        Status::Interrupted,
    ),
    (
        "50079",
        "Multi-factor authentication registration required",
        Status::Interrupted,
    ),
    (
        MFA_FAILED,
        "Authentication failed during the strong-authentication request",
        Status::Failure,
    ),
    (
        "50097",
        "Device authentication required",
        Status::Interrupted,
    ),
    (
        "50125",
        "Sign-in interrupted by password reset or registration",
        Status::Interrupted,
    ),
    (
        "50140",
        "\"Keep me signed in\" interrupt",
        Status::Interrupted,
    ),
    (
        "50199",
        "Confirmation interrupt (mobile redirect)",
        Status::Interrupted,
    ),
    (
        "50105",
        "User not assigned to a role for the application",
        Status::Failure,
    ),
    ("50131", "Conditional Access failure", Status::Failure),
    (
        "53000",
        "Conditional Access requires a compliant device",
        Status::Failure,
    ),
    (
        "53001",
        "Conditional Access requires a domain-joined device",
        Status::Failure,
    ),
    (
        "53002",
        "Application is not an approved client app",
        Status::Failure,
    ),
    ("53003", "Blocked by Conditional Access", Status::Failure),
    (
        "530032",
        "Blocked by tenant security policy",
        Status::Failure,
    ),
    ("530035", "Blocked by security defaults", Status::Failure),
    (
        "53004",
        "Must complete multi-factor registration (blocked due to risk)",
        Status::Interrupted,
    ),
    (
        "53011",
        "Blocked due to risk on the home tenant",
        Status::Failure,
    ),
    (
        "70043",
        "Refresh token expired (sign-in frequency)",
        Status::Interrupted,
    ),
    (
        "70044",
        "Session expired (sign-in frequency)",
        Status::Interrupted,
    ),
    (
        "700082",
        "Refresh token expired due to inactivity",
        Status::Interrupted,
    ),
    (
        "50173",
        "Fresh token needed (tokens revoked)",
        Status::Interrupted,
    ),
    (
        "50133",
        "Session invalid after a password change",
        Status::Interrupted,
    ),
    (
        "50132",
        "Session invalid after a password expiry",
        Status::Interrupted,
    ),
    ("50089", "Flow token expired", Status::Failure),
    (
        "81010",
        "Seamless SSO Kerberos ticket expired or invalid",
        Status::Interrupted,
    ),
    ("90025", "Internal retry budget reached", Status::Failure),
    (
        "90095",
        "Admin consent workflow interrupt",
        Status::Interrupted,
    ),
    (
        "65001",
        "Consent missing for the application",
        Status::Failure,
    ),
    ("7000215", "Invalid client secret", Status::Failure),
    ("7000222", "Expired client secret", Status::Failure),
    (
        "700016",
        "Application not found in the tenant",
        Status::Failure,
    ),
];

/// The codes Microsoft's Entra workbooks count as "Pending user action" (an interrupt) rather
/// than a failure, as the Sign-ins workbook template lists them
/// (`Application-Insights-Workbooks`, `Workbooks/Azure Active Directory/SignIns/SignIns.workbook`).
/// The usage reports classify with this list, so their figures match the workbooks'; it differs
/// from [`classify`]'s (which, for one, counts an expired password 50055 as a failure).
pub const WORKBOOK_INTERRUPTS: &[&str] = &[
    "50058", "50140", "51006", "50059", "65001", "52004", "50055", "50144", "50072", "50074",
    "16000", "16001", "16003", "50127", "50125", "50129", "50143", "81010", "81014", "81012",
];

/// How the workbooks count a result code: success, pending user action, or failure.
pub fn workbook_status(code: &str) -> Status {
    if code == "0" {
        Status::Success
    } else if WORKBOOK_INTERRUPTS.contains(&code) {
        Status::Interrupted
    } else {
        Status::Failure
    }
}

/// What a result code means and how it counts.
pub fn classify(code: &str) -> (Status, Option<&'static str>) {
    match CODES.iter().find(|(c, _, _)| *c == code) {
        Some((_, meaning, status)) => (*status, Some(meaning)),
        None => (Status::Failure, None),
    }
}

/// The codes that count as interrupts (for queries that classify in the store).
pub fn interrupt_codes() -> Vec<&'static str> {
    CODES
        .iter()
        .filter(|(_, _, s)| *s == Status::Interrupted)
        .map(|(c, _, _)| *c)
        .collect()
}
