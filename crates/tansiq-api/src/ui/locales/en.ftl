# Tansiq web interface: English.
app-name = Tansiq
skip-to-content = Skip to content
language-menu = Language
main-menu = Main menu
logout = Log out
none = none
back-to-inbox = Back to the inbox

nav-inbox = Inbox
nav-records = Records
nav-screen = Screening
nav-alerts = Alerts
nav-releases = Releases
nav-channels = Channels and files
nav-sync = Sync status
nav-audit = Audit

role-admin = administrator
role-officer = liaison officer
role-analyst = analyst
role-auditor = auditor
role-operator = operator

login-title = Sign in
login-intro = Sign in with the API token your node's operator issued to you. The token stays on the server; your browser keeps only a session cookie.
login-token = API token
login-submit = Sign in
login-failed = This token is not valid (unknown, expired or revoked).
login-expired = The form had expired. Please sign in again.

error-not-found = Not found
error-refused = Not allowed
error-bad-input = Invalid request
error-internal = Internal error

notice-acked = Message acknowledged; the sender has been notified.
notice-granted = Release granted; the signed release is on its way to the requester.
notice-refused = Release refused; the requester has been notified.
notice-requested = Release requested from the record's originator.
notice-shared = Record shared into the channel.
notice-checkpoint = A new checkpoint of the audit log has been signed.

inbox-title = Inbox
inbox-caption = Received messages, FLASH first, then IMMEDIATE, PRIORITY and ROUTINE
inbox-count = { $count ->
    [one] One message
   *[other] { $count } messages
}
inbox-pending-officer = { $count ->
    [0] nothing awaits an officer's acknowledgement
    [one] one awaits an officer's acknowledgement
   *[other] { $count } await an officer's acknowledgement
}
inbox-pending = { $count ->
    [0] nothing awaits your acknowledgement
    [one] one awaits your acknowledgement
   *[other] { $count } await your acknowledgement
}
inbox-empty = No messages in your files.
ack-button = Acknowledge
acked = Acknowledged
ack-awaited = Awaiting the officer's acknowledgement
ack-not-needed = No acknowledgement required
unacked-title = Sent messages awaiting acknowledgement
unacked-none = None of your sent messages awaits acknowledgement.

prec-flash = FLASH
prec-immediate = IMMEDIATE
prec-priority = PRIORITY
prec-routine = ROUTINE

col-precedence = Precedence
col-message = Message
col-from = From
col-to = To
col-sent = Sent
col-ack = Acknowledgement
col-channel = Channel
col-channels = Channels
col-file = File
col-files = Files
col-awaiting = Awaiting
col-record = Record
col-kind = Kind
col-created = Created
col-expires = Expires
col-version = Version
col-originator = Originator
col-relation = Relation
col-since = Since
col-until = Until
col-signed-by = Signed by
col-state = State
col-direction = Direction
col-target = Target channel
col-status = Status
col-reason = Reason
col-requester = Requested by
col-members = Members
col-relays = Relays
col-decided = Decided
col-matched-name = Matched name
col-score = Score
col-explanation = Explanation
col-entry = List entry
col-peer = Partner node
col-link = Link
col-queue = Queued
col-last-delivery = Last delivery
col-last-error = Last error
col-size = Entries
col-root = Root hash
col-witnesses = Co-signatures

records-title = Records
records-search = Name (any script)
search-button = Search
records-empty = No records that you may see.
page-prev = Previous
page-next = Next

kind-person = Person
kind-organization = Organization
kind-network = Network
kind-location = Location
kind-incident = Incident
kind-document = Document
kind-note = Note

status-active = active
status-retracted = retracted
status-pending = pending
status-granted = granted
status-refused = refused

tlp-clear = may be shared without restriction
tlp-green = limited to the community, not public
tlp-amber = limited to the recipients' organisations on a need-to-know basis
tlp-amber-strict = limited to the recipients' organisation only
tlp-red = for the named recipients only; no further disclosure

handling-code = Handling
handling-H0 = may be passed on by holders
handling-H1 = may be passed on, not for use as evidence in court
handling-H2 = no onward dissemination without the originator's consent
handling-H3 = originator's consent and stated conditions
evaluation = Evaluation

names-title = Names
names-latin = Latin script
names-arabic = Arabic script
names-aliases = Aliases and weak names
data-title = Details
links-title = Links
links-none = No links to records you may see.
history-title = Versions
version-signed = signed
version-retraction = retraction
version-purged = content purged

releases-title = Releases
releases-none = None.
releases-to-decide = To decide
releases-nothing-to-decide = No release requests await your decision.
releases-requested = Requested by this service
releases-decided = Decided
direction-in = asked of us
direction-out = asked by us
release-conditions = Conditions
release-grant = Grant
release-refuse = Refuse
share-into = Share into
share-button = Share
release-into = Ask the originator to release into
release-request-button = Request release

screen-title = Screening
screen-intro = Screen names against every list you may see. Type one name per line, or upload a CSV (columns id, name and optionally birth_date, nationality, gender) or JSONL file.
screen-names = Names, one per line
screen-file = Or a CSV or JSONL file
screen-threshold = Score threshold (0 to 1)
screen-button = Screen
screen-running = Screening in progress…
screen-results = Results
screen-summary = { $screened } names screened, { $hits } with hits, in { $millis } ms
screen-download = Download as CSV
screen-no-hit = No hit.

alerts-title = Alerts
alerts-intro = Raised by continuous screening when a list entry matches one of your service's records.
alerts-none = No alerts in your files.

channels-title = Channels and files
channels-none = No channels.
your-files = Your files:

sync-title = Sync status
sync-no-peers = No partner nodes.
link-up = up
link-down = down
card-pending = new key card not yet delivered
holds-title = Restore holds
holds-intro = This node was restored from a backup: it sends nothing new on these channels until each partner confirms it holds none of its later envelopes. What users make meanwhile waits here and is sent then.
col-deferred = Waiting
alarms-title = Alarms
alarms-none = No alarms.

audit-title = Audit
audit-ok = The audit log verifies: { $entries } entries, { $checkpoints } checkpoints, { $versions } record versions.
audit-broken = The audit log does NOT verify:
audit-verify = Verify the whole log
audit-verifying = Verifying every entry and record version…
audit-checkpoint-now = Sign a checkpoint now
checkpoints-title = Latest checkpoints
checkpoints-none = No checkpoints yet.

network-title = Network
network-back = Back to the record
network-hops = Hops
network-show = Show
network-summary = { $nodes } records and { $links } links within { $hops } hops that you may see
network-truncated = cut at the drawing's limit
network-caption = The record at the centre; each ring one hop further. Select a record to centre the network on it.
network-records = Records in the network
network-col-hops = Hops
network-open = Network view (records linked within N hops)

nav-incident = Declare an incident
incident-title = Declare an incident
incident-intro = After an attack: the incident record, a FLASH to every channel carrying its file, and the attached names (a passenger manifest, detainees) screened against every list you may see; hits become alerts linked to the incident.
incident-declared = Incident declared
incident-summary = { $flashes } FLASH sent; { $screened } names screened against { $entries } records; { $hits } with hits, { $alerts } alerts raised; in { $millis } ms
incident-running = Declaring and screening…
incident-field-title = Title
incident-field-place = Place
incident-field-when = When (date or date-time)
incident-field-message = FLASH text (default: the title and place)
incident-button = Declare and send the FLASH
col-name = Name
