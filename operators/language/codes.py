"""Language codes: ISO 639-1 and 639-3 names for one language, macrolanguages, and model label formats.

Every language has one canonical code: its ISO 639-1 code where it has one (``en``, ``zh``), else its
ISO 639-3 code (``yue``, ``ceb``). Any other name of the same language (``eng``, ``zho``, ``cmn``,
``nob``, ``zsm``, ``pes``, ``swh``, ``ekk``, the 639-2/B codes such as ``ger``) maps to it, so that a
user's ``allowed: [eng]`` and a model's ``__label__en`` agree.

A macrolanguage (``zh``, ``ar``, ``no``, ``sh``, ...) admits its member languages: allowing ``zh``
keeps Cantonese (``yue``) and Wu (``wuu``) text, allowing ``no`` keeps Bokmål and Nynorsk. The reverse
is not true: allowing ``nb`` does not keep Nynorsk. Indonesian is a member of the Malay macrolanguage
in ISO 639-3, but nobody who asks for Malay means Indonesian, so ``ms`` does not admit ``id``.

Labels differ per model: ``lid.176`` uses Wikipedia language codes (``__label__en``, ``__label__no``
for the Bokmål Wikipedia, ``__label__als`` for Alemannic), GlotLID and OpenLID use ISO 639-3 with a
script (``__label__eng_Latn``, ``__label__nob_Latn``, ``__label__als_Latn`` for Tosk Albanian).
"""

from __future__ import annotations

import re

LABEL_PREFIX = "__label__"

# canonical code, then every other code of the same language (639-2/T, 639-2/B, 639-3 individual
# codes of a macrolanguage's main member, and codes some models use).
_ALIASES = """
af afr
am amh
an arg
ar ara arb
as asm
av ava
az aze azj
ba bak
be bel
bg bul
bn ben
bo bod tib
br bre
bs bos
ca cat
ce che
co cos
cs ces cze
cv chv
cy cym wel
da dan
de deu ger
dv div
ee ewe
el ell gre
en eng
eo epo
es spa
et est ekk
eu eus baq
fa fas per pes
ff ful
fi fin
fo fao
fr fra fre
fy fry
ga gle
gd gla
gl glg
gn grn
gu guj
gv glv
ha hau
he heb
hi hin
hr hrv
ht hat
hu hun
hy hye arm
ia ina
id ind
ie ile
ig ibo
io ido
is isl ice
it ita
ja jpn
jv jav
ka kat geo
kk kaz
km khm
kn kan
ko kor
ks kas
ku kur kmr
kv kom kpv
kw cor
ky kir
la lat
lb ltz
lg lug
li lim
ln lin
lo lao
lt lit
lv lav lvs
mg mlg plt
mi mri mao
mk mkd mac
ml mal
mn mon khk
mr mar
ms msa may zsm
mt mlt
my mya bur
nb nob
ne nep npi
nl nld dut
nn nno
no nor
ny nya
oc oci
om orm gaz
or ori ory
os oss
pa pan
pl pol
ps pus pbt
pt por
qu que quy
rm roh
rn run
ro ron rum mol
ru rus
rw kin
sa san
sc srd
sd snd
sh hbs
si sin
sk slk slo
sl slv
sn sna
so som
sq sqi alb als
sr srp
st sot
su sun
sv swe
sw swa swh
ta tam
te tel
tg tgk
th tha
ti tir
tk tuk
tl tgl fil
tn tsn
tr tur
ts tso
tt tat
ug uig
uk ukr
ur urd
uz uzb uzn
vi vie
vo vol
wa wln
wo wol
xh xho
yi yid ydd
yo yor
zh zho chi cmn
zu zul
"""

ALIASES: dict[str, str] = {}
for _line in _ALIASES.strip().splitlines():
    _canonical, *_others = _line.split()
    ALIASES[_canonical] = _canonical
    for _other in _others:
        ALIASES[_other] = _canonical

#: Member languages a macrolanguage admits (canonical codes), beyond itself.
MACRO_MEMBERS: dict[str, frozenset[str]] = {
    "zh": frozenset({"yue", "wuu", "gan", "hak", "nan", "cdo", "hsn", "lzh"}),
    "ar": frozenset({"arz", "ary", "apc", "ajp", "acm", "aeb", "ars", "ayl", "acq", "afb"}),
    "fa": frozenset({"prs"}),
    "no": frozenset({"nb", "nn"}),
    "sh": frozenset({"hr", "bs", "sr", "cnr"}),
    "sw": frozenset({"swc"}),
    "et": frozenset({"vro"}),
    "lv": frozenset({"ltg"}),
    "az": frozenset({"azb"}),
    "ku": frozenset({"ckb", "sdh"}),
    "uz": frozenset({"uzs"}),
    "ps": frozenset({"pbu", "pst"}),
    "mn": frozenset({"mvf"}),
    "sq": frozenset({"aln"}),
}

#: Labels that name a family of languages a model cannot tell apart, not one language.
FAMILY_LABELS = frozenset({"sh", "no"})

#: Wikipedia codes in ``lid.176`` labels that mean something else in ISO 639.
_WIKIPEDIA_LABELS = {
    "no": "nb",  # no.wikipedia.org is written in Bokmål; Nynorsk has its own, labelled nn
    "als": "gsw",  # Alemannic German, not ISO 639-3 als (Tosk Albanian)
    "bh": "bih",
    "eml": "egl",
    "nah": "nah",
}

_CODE = re.compile(r"^[a-z]{2,3}$")
_SCRIPT_SUFFIX = re.compile(r"^([A-Za-z]{2,3})[_-][A-Z][a-z]{3}$")


def canonical(code: str) -> str:
    """Returns the canonical code of a language code (``eng`` -> ``en``, ``cmn_Hani`` -> ``zh``).

    Unknown but well-formed codes (``haw``) are their own canonical code.

    Raises:
        ValueError: ``code`` is not a two- or three-letter code, with an optional script suffix.
    """
    text = code.strip()
    text = text.removeprefix(LABEL_PREFIX)
    scripted = _SCRIPT_SUFFIX.match(text)
    if scripted:
        text = scripted.group(1)
    text = text.lower()
    if not _CODE.match(text):
        raise ValueError(f"'{code}' is not an ISO 639-1 or 639-3 language code (e.g. 'en', 'zho')")
    return ALIASES.get(text, text)


def label_to_code(label: str) -> str:
    """Returns the canonical code of a fastText label in either format.

    ``__label__en`` (``lid.176``: Wikipedia codes) and ``__label__eng_Latn`` (GlotLID, OpenLID:
    ISO 639-3 and a script) are both understood.
    """
    text = label.removeprefix(LABEL_PREFIX)
    if _SCRIPT_SUFFIX.match(text):
        return canonical(text)
    text = text.lower()
    if text in _WIKIPEDIA_LABELS:
        return _WIKIPEDIA_LABELS[text]
    if _CODE.match(text):
        return ALIASES.get(text, text)
    return text  # a label outside ISO 639 (e.g. a custom model's "zh-classical"): kept as written


def admitted(codes: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Returns the canonical codes that ``codes`` admit: each code and, for a macrolanguage, its members."""
    result: set[str] = set()
    for code in codes:
        code = canonical(code)
        result.add(code)
        result |= MACRO_MEMBERS.get(code, frozenset())
        if code == "nb":
            result.add("no")
    return frozenset(result)


def is_admitted(code: str, admitted_codes: frozenset[str]) -> bool:
    """True when a predicted language falls inside the admitted set.

    A family label (``sh``: Serbo-Croatian) is admitted when one of its members is: the model could
    not be more specific, and the text is in that family. A macrolanguage label that in practice
    names one standard language (``zh``: written Chinese, ``ar``: Modern Standard Arabic) is not
    admitted by a member (``yue``, ``arz``).
    """
    if code in admitted_codes:
        return True
    return code in FAMILY_LABELS and bool(MACRO_MEMBERS[code] & admitted_codes)
