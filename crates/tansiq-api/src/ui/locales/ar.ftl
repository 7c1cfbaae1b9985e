# واجهة تنسيق على الويب: العربية.
app-name = تنسيق
skip-to-content = الانتقال إلى المحتوى
language-menu = اللغة
main-menu = القائمة الرئيسية
logout = تسجيل الخروج
none = لا شيء
back-to-inbox = العودة إلى صندوق الوارد

nav-inbox = صندوق الوارد
nav-records = البطاقات
nav-screen = الفحص
nav-alerts = التنبيهات
nav-releases = أذونات الإحالة
nav-channels = القنوات والملفات
nav-sync = حالة المزامنة
nav-audit = سجل التدقيق

role-admin = مسؤول النظام
role-officer = ضابط اتصال
role-analyst = محلل
role-auditor = مدقق
role-operator = المشغّل

login-title = تسجيل الدخول
login-intro = سجّل الدخول برمز الواجهة البرمجية الذي سلّمه لك مشغّل العقدة. يبقى الرمز على الخادم، ولا يحتفظ متصفحك إلا بملف تعريف الجلسة.
login-token = رمز الواجهة البرمجية
login-submit = دخول
login-failed = هذا الرمز غير صالح (مجهول أو منتهي الصلاحية أو ملغى).
login-expired = انتهت صلاحية الاستمارة. يرجى تسجيل الدخول من جديد.

error-not-found = غير موجود
error-refused = غير مسموح
error-bad-input = طلب غير صالح
error-internal = خطأ داخلي

notice-acked = تم الإشعار بالاستلام، وأُبلغ المرسِل.
notice-granted = مُنح الإذن بالإحالة، والإذن الموقَّع في طريقه إلى الطالب.
notice-refused = رُفض الإذن بالإحالة، وأُبلغ الطالب.
notice-requested = طُلب من الجهة المُصدِرة الإذنُ بالإحالة.
notice-shared = أُحيلت البطاقة إلى القناة.
notice-checkpoint = وُقّعت نقطة تحقق جديدة لسجل التدقيق.

inbox-title = صندوق الوارد
inbox-caption = الرسائل الواردة: البرقيات الفورية (FLASH) أولاً، ثم العاجلة جداً، فالعاجلة، فالعادية
inbox-count = { $count ->
    [zero] لا رسائل
    [one] رسالة واحدة
    [two] رسالتان
    [few] { $count } رسائل
   *[other] { $count } رسالة
}
inbox-pending-officer = { $count ->
    [0] لا شيء ينتظر إشعار الاستلام من ضابط
    [one] رسالة واحدة تنتظر إشعار الاستلام من ضابط
    [two] رسالتان تنتظران إشعار الاستلام من ضابط
    [few] { $count } رسائل تنتظر إشعار الاستلام من ضابط
   *[other] { $count } رسالة تنتظر إشعار الاستلام من ضابط
}
inbox-pending = { $count ->
    [0] لا شيء ينتظر إشعارك بالاستلام
    [one] رسالة واحدة تنتظر إشعارك بالاستلام
    [two] رسالتان تنتظران إشعارك بالاستلام
    [few] { $count } رسائل تنتظر إشعارك بالاستلام
   *[other] { $count } رسالة تنتظر إشعارك بالاستلام
}
inbox-empty = لا توجد رسائل في ملفاتك.
ack-button = إشعار بالاستلام
acked = تم الإشعار بالاستلام
ack-awaited = في انتظار إشعار ضابط الاتصال بالاستلام
ack-not-needed = لا يلزم إشعار بالاستلام
unacked-title = رسائل مرسلة في انتظار الإشعار بالاستلام
unacked-none = لا توجد رسالة مرسلة منك في انتظار الإشعار بالاستلام.

prec-flash = فوري
prec-immediate = عاجل جداً
prec-priority = عاجل
prec-routine = عادي

col-precedence = الأسبقية
col-message = الرسالة
col-from = من
col-to = إلى
col-sent = تاريخ الإرسال
col-ack = الإشعار بالاستلام
col-channel = القناة
col-channels = القنوات
col-file = الملف
col-files = الملفات
col-awaiting = في انتظار
col-record = البطاقة
col-kind = النوع
col-created = تاريخ الإنشاء
col-expires = تاريخ الانتهاء
col-version = النسخة
col-originator = الجهة المُصدِرة
col-relation = العلاقة
col-since = منذ
col-until = حتى
col-signed-by = موقَّع من
col-state = الحالة
col-direction = الاتجاه
col-target = القناة المقصودة
col-status = الوضع
col-reason = السبب
col-requester = الجهة الطالبة
col-members = الأعضاء
col-relays = المُرحِّلات
col-decided = تاريخ القرار
col-matched-name = الاسم المطابق
col-score = الدرجة
col-explanation = التفسير
col-entry = قيد القائمة
col-peer = العقدة الشريكة
col-link = الاتصال
col-queue = في الطابور
col-last-delivery = آخر تسليم
col-last-error = آخر خطأ
col-size = القيود
col-root = البصمة الجذرية
col-witnesses = التوقيعات المشتركة

records-title = البطاقات
records-search = الاسم (بأي خط)
search-button = بحث
records-empty = لا توجد بطاقات يحق لك الاطلاع عليها.
page-prev = السابق
page-next = التالي

kind-person = شخص
kind-organization = تنظيم
kind-network = شبكة
kind-location = مكان
kind-incident = حادث
kind-document = وثيقة
kind-note = مذكرة

status-active = سارٍ
status-retracted = مسحوب
status-pending = قيد الانتظار
status-granted = ممنوح
status-refused = مرفوض

tlp-clear = يجوز تداوله دون قيود
tlp-green = مقصور على المجتمع المعني، غير علني
tlp-amber = مقصور على الجهات المتلقية وفق مبدأ الحاجة إلى المعرفة
tlp-amber-strict = مقصور على الجهة المتلقية وحدها
tlp-red = للمتلقين المسمَّين فقط، ولا يجوز إفشاؤه لغيرهم

handling-code = رمز التداول
handling-H0 = يجوز لحائزيه إحالته
handling-H1 = تجوز إحالته، ولا يُستعمل دليلاً أمام القضاء
handling-H2 = لا تجوز إحالته دون موافقة الجهة المُصدِرة
handling-H3 = موافقة الجهة المُصدِرة مع الشروط المبيَّنة
evaluation = التقييم

names-title = الأسماء
names-latin = بالخط اللاتيني
names-arabic = بالخط العربي
names-aliases = الأسماء المستعارة والأسماء الضعيفة
data-title = التفاصيل
links-title = الروابط
links-none = لا روابط إلى بطاقات يحق لك الاطلاع عليها.
history-title = النسخ
version-signed = موقَّعة
version-retraction = سحب
version-purged = محتوى ممحو

releases-title = أذونات الإحالة
releases-none = لا شيء.
releases-to-decide = بانتظار قرارك
releases-nothing-to-decide = لا توجد طلبات إحالة بانتظار قرارك.
releases-requested = طلبات مصلحتنا
releases-decided = طلبات بُتّ فيها
direction-in = مطلوب منّا
direction-out = مطلوب من قبلنا
release-conditions = الشروط
release-grant = منح الإذن
release-refuse = رفض
share-into = إحالة إلى
share-button = إحالة
release-into = طلب إذن الجهة المُصدِرة بالإحالة إلى
release-request-button = طلب الإذن

screen-title = الفحص
screen-intro = افحص الأسماء مقابل كل القوائم التي يحق لك الاطلاع عليها. اكتب اسماً في كل سطر، أو حمّل ملف CSV (الأعمدة id وname واختيارياً birth_date وnationality وgender) أو ملف JSONL.
screen-names = الأسماء، اسم في كل سطر
screen-file = أو ملف CSV أو JSONL
screen-threshold = عتبة الدرجة (من 0 إلى 1)
screen-button = افحص
screen-running = الفحص جارٍ…
screen-results = النتائج
screen-summary = فُحص { $screened } من الأسماء، منها { $hits } مع تطابق، في { $millis } م.ث
screen-download = تنزيل بصيغة CSV
screen-no-hit = لا تطابق.

alerts-title = التنبيهات
alerts-intro = يطلقها الفحص المستمر حين يطابق قيدٌ في قائمة بطاقةً من بطاقات مصلحتك.
alerts-none = لا توجد تنبيهات في ملفاتك.

channels-title = القنوات والملفات
channels-none = لا توجد قنوات.
your-files = ملفاتك:

sync-title = حالة المزامنة
sync-no-peers = لا توجد عقد شريكة.
link-up = متصل
link-down = منقطع
card-pending = بطاقة المفاتيح الجديدة لم تُسلَّم بعد
holds-title = إرسال معلّق بعد الاستعادة
holds-intro = استُعيدت هذه العقدة من نسخة احتياطية: لا ترسل شيئًا جديدًا في هذه القنوات حتى يؤكد كل شريك أنه لا يحتفظ بأي من إرسالياتها اللاحقة. ما ينشئه المستخدمون في الأثناء ينتظر هنا ثم يُرسل.
col-deferred = في الانتظار
alarms-title = الإنذارات
alarms-none = لا إنذارات.

audit-title = سجل التدقيق
audit-ok = تم التحقق من سجل التدقيق: { $entries } قيداً، و{ $checkpoints } نقطة تحقق، و{ $versions } نسخة من البطاقات.
audit-broken = تعذّر التحقق من سجل التدقيق:
audit-verify = التحقق من السجل كاملاً
audit-verifying = جارٍ التحقق من كل قيد وكل نسخة من البطاقات…
audit-checkpoint-now = توقيع نقطة تحقق الآن
checkpoints-title = آخر نقاط التحقق
checkpoints-none = لا توجد نقاط تحقق بعد.

network-title = الشبكة
network-back = العودة إلى البطاقة
network-hops = القفزات
network-show = عرض
network-summary = { $nodes } بطاقة و{ $links } رابطاً في حدود { $hops } قفزات مما يحق لك الاطلاع عليه
network-truncated = مقطوعة عند حدّ الرسم
network-caption = البطاقة في المركز، وكل حلقة تبعد قفزة إضافية. اختر بطاقة لتوسيط الشبكة عليها.
network-records = بطاقات الشبكة
network-col-hops = القفزات
network-open = عرض الشبكة (البطاقات المرتبطة في حدود N قفزات)

nav-incident = الإبلاغ عن حادث
incident-title = الإبلاغ عن حادث
incident-intro = بعد اعتداء: بطاقة الحادث، وبرقية فورية إلى كل قناة تحمل ملفه، وفحص الأسماء المرفقة (قائمة ركاب، موقوفون) مقابل كل القوائم التي يحق لك الاطلاع عليها؛ وتصير التطابقات تنبيهات مرتبطة بالحادث.
incident-declared = تم الإبلاغ عن الحادث
incident-summary = أُرسلت { $flashes } برقية فورية؛ وفُحص { $screened } من الأسماء مقابل { $entries } بطاقة؛ منها { $hits } مع تطابق، وأُطلق { $alerts } تنبيهاً؛ في { $millis } م.ث
incident-running = جارٍ الإبلاغ والفحص…
incident-field-title = العنوان
incident-field-place = المكان
incident-field-when = التاريخ (يوم أو يوم وساعة)
incident-field-message = نص البرقية الفورية (افتراضياً: العنوان والمكان)
incident-button = الإبلاغ وإرسال البرقية الفورية
col-name = الاسم
