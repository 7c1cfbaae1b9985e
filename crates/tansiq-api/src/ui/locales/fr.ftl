# Interface web de Tansiq : français.
app-name = Tansiq
skip-to-content = Aller au contenu
language-menu = Langue
main-menu = Menu principal
logout = Se déconnecter
none = aucun
back-to-inbox = Retour à la boîte de réception

nav-inbox = Boîte de réception
nav-records = Fiches
nav-screen = Criblage
nav-alerts = Alertes
nav-releases = Autorisations de diffusion
nav-channels = Canaux et dossiers
nav-sync = État de la synchronisation
nav-audit = Journal d'audit

role-admin = administrateur
role-officer = officier de liaison
role-analyst = analyste
role-auditor = auditeur
role-operator = opérateur

login-title = Connexion
login-intro = Connectez-vous avec le jeton d'API que l'opérateur de votre nœud vous a remis. Le jeton reste sur le serveur ; votre navigateur ne conserve qu'un cookie de session.
login-token = Jeton d'API
login-submit = Se connecter
login-failed = Ce jeton n'est pas valide (inconnu, expiré ou révoqué).
login-expired = Le formulaire avait expiré. Veuillez vous reconnecter.

error-not-found = Introuvable
error-refused = Non autorisé
error-bad-input = Requête invalide
error-internal = Erreur interne

notice-acked = Message accusé ; l'expéditeur en a été avisé.
notice-granted = Diffusion autorisée ; l'autorisation signée part vers le demandeur.
notice-refused = Diffusion refusée ; le demandeur en a été avisé.
notice-requested = Autorisation de diffusion demandée au service d'origine.
notice-shared = Fiche diffusée dans le canal.
notice-checkpoint = Un nouveau point de contrôle du journal d'audit a été signé.

inbox-title = Boîte de réception
inbox-caption = Messages reçus : FLASH d'abord, puis IMMÉDIAT, PRIORITAIRE et ROUTINE
inbox-count = { $count ->
    [one] Un message
   *[other] { $count } messages
}
inbox-pending-officer = { $count ->
    [0] aucun n'attend l'accusé de réception d'un officier
    [one] un attend l'accusé de réception d'un officier
   *[other] { $count } attendent l'accusé de réception d'un officier
}
inbox-pending = { $count ->
    [0] aucun n'attend votre accusé de réception
    [one] un attend votre accusé de réception
   *[other] { $count } attendent votre accusé de réception
}
inbox-empty = Aucun message dans vos dossiers.
ack-button = Accuser réception
acked = Reçu accusé
ack-awaited = En attente de l'accusé de réception d'un officier
ack-not-needed = Aucun accusé de réception requis
unacked-title = Messages envoyés en attente d'accusé de réception
unacked-none = Aucun de vos messages envoyés n'attend d'accusé de réception.

prec-flash = FLASH
prec-immediate = IMMÉDIAT
prec-priority = PRIORITAIRE
prec-routine = ROUTINE

col-precedence = Priorité
col-message = Message
col-from = De
col-to = Vers
col-sent = Envoyé le
col-ack = Accusé de réception
col-channel = Canal
col-channels = Canaux
col-file = Dossier
col-files = Dossiers
col-awaiting = En attente de
col-record = Fiche
col-kind = Type
col-created = Créé le
col-expires = Expire le
col-version = Version
col-originator = Service d'origine
col-relation = Relation
col-since = Depuis
col-until = Jusqu'au
col-signed-by = Signé par
col-state = État
col-direction = Sens
col-target = Canal visé
col-status = Statut
col-reason = Motif
col-requester = Demandé par
col-members = Membres
col-relays = Relais
col-decided = Décidé le
col-matched-name = Nom correspondant
col-score = Score
col-explanation = Explication
col-entry = Entrée de liste
col-peer = Nœud partenaire
col-link = Liaison
col-queue = En file
col-last-delivery = Dernière remise
col-last-error = Dernière erreur
col-size = Entrées
col-root = Empreinte racine
col-witnesses = Cosignatures

records-title = Fiches
records-search = Nom (toute écriture)
search-button = Rechercher
records-empty = Aucune fiche que vous puissiez consulter.
page-prev = Précédent
page-next = Suivant

kind-person = Personne
kind-organization = Organisation
kind-network = Réseau
kind-location = Lieu
kind-incident = Incident
kind-document = Document
kind-note = Note

status-active = active
status-retracted = retirée
status-pending = en attente
status-granted = accordée
status-refused = refusée

tlp-clear = diffusion sans restriction
tlp-green = limitée à la communauté, non publique
tlp-amber = limitée aux organisations destinataires, selon le besoin d'en connaître
tlp-amber-strict = limitée à la seule organisation destinataire
tlp-red = réservée aux destinataires nommés ; aucune autre diffusion

handling-code = Code de traitement
handling-H0 = peut être transmise par les détenteurs
handling-H1 = peut être transmise, mais non utilisée comme preuve en justice
handling-H2 = aucune diffusion ultérieure sans l'accord du service d'origine
handling-H3 = accord du service d'origine et conditions énoncées
evaluation = Évaluation

names-title = Noms
names-latin = Écriture latine
names-arabic = Écriture arabe
names-aliases = Alias et noms faibles
data-title = Détails
links-title = Liens
links-none = Aucun lien vers des fiches que vous puissiez consulter.
history-title = Versions
version-signed = signée
version-retraction = retrait
version-purged = contenu purgé

releases-title = Autorisations de diffusion
releases-none = Aucune.
releases-to-decide = À décider
releases-nothing-to-decide = Aucune demande de diffusion n'attend votre décision.
releases-requested = Demandées par notre service
releases-decided = Décidées
direction-in = demandée à nous
direction-out = demandée par nous
release-conditions = Conditions
release-grant = Autoriser
release-refuse = Refuser
share-into = Diffuser dans
share-button = Diffuser
release-into = Demander au service d'origine l'autorisation de diffuser dans
release-request-button = Demander l'autorisation

screen-title = Criblage
screen-intro = Criblez des noms contre toutes les listes que vous pouvez consulter. Saisissez un nom par ligne, ou chargez un fichier CSV (colonnes id, name et éventuellement birth_date, nationality, gender) ou JSONL.
screen-names = Noms, un par ligne
screen-file = Ou un fichier CSV ou JSONL
screen-threshold = Seuil de score (de 0 à 1)
screen-button = Cribler
screen-running = Criblage en cours…
screen-results = Résultats
screen-summary = { $screened } noms criblés, { $hits } avec correspondance, en { $millis } ms
screen-download = Télécharger en CSV
screen-no-hit = Aucune correspondance.

alerts-title = Alertes
alerts-intro = Levées par le criblage continu lorsqu'une entrée de liste correspond à une fiche de votre service.
alerts-none = Aucune alerte dans vos dossiers.

channels-title = Canaux et dossiers
channels-none = Aucun canal.
your-files = Vos dossiers :

sync-title = État de la synchronisation
sync-no-peers = Aucun nœud partenaire.
link-up = établie
link-down = coupée
card-pending = nouvelle carte de clés pas encore remise
holds-title = Envois retenus après restauration
holds-intro = Ce nœud a été restauré depuis une sauvegarde : il n'envoie rien de nouveau sur ces canaux tant que chaque partenaire n'a pas confirmé ne détenir aucun de ses envois ultérieurs. Ce que les utilisateurs créent entre-temps attend ici et part ensuite.
col-deferred = En attente
alarms-title = Alarmes
alarms-none = Aucune alarme.

audit-title = Journal d'audit
audit-ok = Le journal d'audit est vérifié : { $entries } entrées, { $checkpoints } points de contrôle, { $versions } versions de fiches.
audit-broken = Le journal d'audit NE se vérifie PAS :
audit-verify = Vérifier tout le journal
audit-verifying = Vérification de chaque entrée et de chaque version de fiche…
audit-checkpoint-now = Signer un point de contrôle maintenant
checkpoints-title = Derniers points de contrôle
checkpoints-none = Aucun point de contrôle pour l'instant.

network-title = Réseau
network-back = Retour à la fiche
network-hops = Sauts
network-show = Afficher
network-summary = { $nodes } fiches et { $links } liens à { $hops } sauts au plus, que vous pouvez consulter
network-truncated = coupé à la limite du dessin
network-caption = La fiche au centre ; chaque anneau un saut plus loin. Choisissez une fiche pour centrer le réseau sur elle.
network-records = Fiches du réseau
network-col-hops = Sauts
network-open = Vue réseau (fiches liées à N sauts)

nav-incident = Déclarer un incident
incident-title = Déclarer un incident
incident-intro = Après un attentat : la fiche d'incident, un FLASH à chaque canal portant son dossier, et les noms joints (liste de passagers, personnes interpellées) criblés contre toutes les listes que vous pouvez consulter ; les correspondances deviennent des alertes liées à l'incident.
incident-declared = Incident déclaré
incident-summary = { $flashes } FLASH envoyés ; { $screened } noms criblés contre { $entries } fiches ; { $hits } avec correspondance, { $alerts } alertes levées ; en { $millis } ms
incident-running = Déclaration et criblage en cours…
incident-field-title = Intitulé
incident-field-place = Lieu
incident-field-when = Date (date ou date et heure)
incident-field-message = Texte du FLASH (par défaut : l'intitulé et le lieu)
incident-button = Déclarer et envoyer le FLASH
col-name = Nom
