"""Word lists for the offline extractor (data only, no logic)."""

from __future__ import annotations

__all__ = [
    "BARE_GERUNDS",
    "CLITIC_3SG",
    "DWELLINGS",
    "ENDING_ADVERBS",
    "FAMILY",
    "FAVORITE_TYPES",
    "FILLER_ADJECTIVES",
    "FIRST_PERSON",
    "GENERIC_PREPS",
    "HEDGES",
    "IRREGULAR_PAST",
    "JOB_NOUNS",
    "JUNK_HEADS",
    "LIGHT_VERBS",
    "LIKE_VERBS",
    "NER_TYPES",
    "NON_NAMES",
    "OCCUPATIONS",
    "OUTINGS",
    "PETS",
    "PLAN_NOUNS",
    "PLAN_TIERS",
    "PLAN_VERBS",
    "POSSESSIONS",
    "RELATIONSHIP_STATES",
    "REPORT_VERBS",
    "SCHOOL_WORDS",
    "SECOND_PERSON",
    "START_VERBS",
    "TITLE_ADJECTIVES",
    "VISIT_VERBS",
]

# spaCy NER label -> entity type; labels not listed (DATE, TIME, CARDINAL, ...) are not entities.
NER_TYPES: dict[str, str] = {
    "PERSON": "Person",
    "ORG": "Organization",
    "GPE": "Place",
    "LOC": "Place",
    "FAC": "Place",
    "PRODUCT": "Product",
    "EVENT": "Event",
    "WORK_OF_ART": "Work",
    "NORP": "Group",
    "LANGUAGE": "Language",
}

FIRST_PERSON: dict[str, str] = {
    "i": "subj", "me": "obj", "my": "poss", "mine": "poss", "myself": "obj",
    "we": "subj", "us": "obj", "our": "poss", "ours": "poss", "ourselves": "obj",
}
SECOND_PERSON: dict[str, str] = {
    "you": "subj", "your": "poss", "yours": "poss", "yourself": "obj", "yourselves": "obj", "ya": "subj",
}

# Present-tense forms of be/have/do after "I"/"we"/"you", rewritten for a third-person name.
CLITIC_3SG: dict[str, str] = {
    "am": "is", "'m": "is", "m": "is", "are": "is", "'re": "is", "re": "is", "were": "was",
    "have": "has", "'ve": "has", "ve": "has", "do": "does",
}

# Relation word for "my <noun> <Name>" and "<Name> is my <noun>".
FAMILY: dict[str, str] = {
    "sister": "HAS_SISTER", "brother": "HAS_BROTHER", "sibling": "HAS_SIBLING",
    "mother": "HAS_MOTHER", "mom": "HAS_MOTHER", "mum": "HAS_MOTHER", "mommy": "HAS_MOTHER",
    "father": "HAS_FATHER", "dad": "HAS_FATHER", "daddy": "HAS_FATHER",
    "son": "HAS_SON", "daughter": "HAS_DAUGHTER", "kid": "HAS_CHILD", "child": "HAS_CHILD",
    "baby": "HAS_CHILD", "husband": "MARRIED_TO", "wife": "MARRIED_TO", "spouse": "MARRIED_TO",
    "partner": "HAS_PARTNER", "boyfriend": "DATING", "girlfriend": "DATING", "fiance": "ENGAGED_TO",
    "fiancé": "ENGAGED_TO", "fiancee": "ENGAGED_TO", "fiancée": "ENGAGED_TO",
    "grandmother": "HAS_GRANDMOTHER", "grandma": "HAS_GRANDMOTHER", "granny": "HAS_GRANDMOTHER",
    "grandfather": "HAS_GRANDFATHER", "grandpa": "HAS_GRANDFATHER", "aunt": "HAS_AUNT",
    "uncle": "HAS_UNCLE", "cousin": "HAS_COUSIN", "niece": "HAS_NIECE", "nephew": "HAS_NEPHEW",
    "friend": "HAS_FRIEND", "bestie": "HAS_FRIEND", "roommate": "HAS_ROOMMATE", "neighbor": "HAS_NEIGHBOR",
    "neighbour": "HAS_NEIGHBOR", "colleague": "HAS_COLLEAGUE", "coworker": "HAS_COLLEAGUE",
    "boss": "HAS_BOSS", "manager": "HAS_MANAGER", "mentor": "HAS_MENTOR", "therapist": "HAS_THERAPIST",
    "doctor": "HAS_DOCTOR", "teammate": "HAS_TEAMMATE",
}

PETS: frozenset[str] = frozenset(
    [
        "dog", "puppy", "pup", "cat", "kitten", "kitty", "bird", "parrot", "hamster", "rabbit", "bunny",
        "horse", "pony", "fish", "goldfish", "turtle", "tortoise", "snake", "lizard", "gecko", "guinea",
        "pig", "ferret", "retriever", "labrador", "lab", "poodle", "terrier", "beagle", "bulldog",
        "shepherd", "husky", "corgi", "chihuahua", "dachshund", "spaniel", "collie", "pug", "pet",
    ]
)

POSSESSIONS: frozenset[str] = frozenset(
    [
        "car", "truck", "bike", "bicycle", "motorcycle", "scooter", "boat", "house", "home", "apartment",
        "condo", "flat", "cabin", "laptop", "computer", "phone", "iphone", "tablet", "camera", "guitar",
        "piano", "violin", "drum", "drums", "keyboard", "garden", "farm", "business", "shop", "store",
        "restaurant", "bakery", "studio", "van", "jeep", "tesla", "subscription", "membership",
    ]
)

# Where one lives: "my new place in Denver", "moved into an apartment in Denver".
DWELLINGS: frozenset[str] = frozenset(
    {"place", "apartment", "flat", "house", "home", "condo", "studio", "townhouse", "loft", "pad"}
)

PLAN_NOUNS: frozenset[str] = frozenset({"plan", "tier", "subscription", "package", "membership", "edition"})

OCCUPATIONS: frozenset[str] = frozenset(
    [
        "accountant", "actor", "actress", "analyst", "architect", "artist", "astronaut", "attorney",
        "baker", "banker", "barber", "barista", "bartender", "biologist", "bookkeeper", "builder",
        "butcher", "carpenter", "cashier", "chef", "chemist", "cleaner", "clerk", "coach", "consultant",
        "cook", "counselor", "counsellor", "dancer", "dentist", "designer", "detective", "developer",
        "dietitian", "director", "doctor", "driver", "economist", "editor", "electrician", "engineer",
        "entrepreneur", "farmer", "firefighter", "founder", "freelancer", "gardener", "geologist",
        "hairdresser", "illustrator", "instructor", "intern", "investor", "janitor", "journalist", "judge",
        "lawyer", "lecturer", "librarian", "lifeguard", "machinist", "manager", "marketer", "mechanic",
        "midwife", "musician", "nanny", "nurse", "officer", "optometrist", "painter", "paralegal",
        "paramedic", "pharmacist", "photographer", "physician", "physicist", "physiotherapist", "pilot",
        "plumber", "poet", "policeman", "politician", "producer", "professor", "programmer", "psychiatrist",
        "psychologist", "publicist", "realtor", "receptionist", "recruiter", "reporter", "researcher",
        "salesman", "saleswoman", "scientist", "secretary", "singer", "student", "surgeon", "teacher",
        "technician", "therapist", "translator", "tutor", "veterinarian", "vet", "waiter", "waitress",
        "writer", "youtuber", "author", "cto", "ceo", "cfo", "coo", "vp", "administrator", "sociologist",
        "statistician", "strategist", "trainer",
    ]
)

RELATIONSHIP_STATES: frozenset[str] = frozenset(
    {"married", "single", "divorced", "engaged", "widowed", "separated"}
)

FAVORITE_TYPES: dict[str, str] = {
    "book": "Work", "novel": "Work", "movie": "Work", "film": "Work", "show": "Work", "series": "Work",
    "song": "Work", "album": "Work", "game": "Work", "podcast": "Work", "poem": "Work", "play": "Work",
    "band": "Group", "team": "Group", "group": "Group", "artist": "Person", "singer": "Person",
    "author": "Person", "writer": "Person", "actor": "Person", "actress": "Person", "musician": "Person",
    "city": "Place", "country": "Place", "place": "Place", "restaurant": "Place", "destination": "Place",
    "car": "Product", "brand": "Organization", "animal": "Animal", "pet": "Animal",
}

# Heads that never make a useful fact target on their own.
JUNK_HEADS: frozenset[str] = frozenset(
    [
        "it", "this", "that", "these", "those", "them", "they", "he", "she", "him", "her", "something",
        "anything", "everything", "nothing", "someone", "anyone", "everyone", "stuff", "thing", "things",
        "lot", "lots", "one", "ones", "idea", "way", "time", "times", "part", "kind", "sort", "bit", "fact",
        "moment", "day", "days", "week", "weeks", "year", "years", "month", "months", "today", "tonight",
        "tomorrow", "yesterday", "while", "fun", "chance", "opportunity", "question", "questions",
        "problem", "deal", "point", "reason", "feeling", "sense", "experience", "job", "work", "place",
        "people", "person", "guy", "guys", "what", "which", "who", "whom", "all", "both", "each", "more",
        "most", "much", "some", "any", "other", "others", "another", "none", "rest", "end", "start",
        "beginning", "side", "pic", "picture", "photo", "photos", "pics", "one's", "company", "ton", "tons",
        "bunch", "best", "look", "unknown", "lots", "glimpse", "hang", "shot", "blast", "kinds", "sorts",
        "thought", "thoughts", "suggestion", "sound", "vibe", "vibes", "energy", "progress",
    ]
)

# Verbs whose object rarely carries a durable fact (skipped by the generic subject-verb-object rule).
LIGHT_VERBS: frozenset[str] = frozenset(
    [
        "be", "have", "do", "get", "make", "take", "give", "go", "come", "let", "say", "tell", "think",
        "know", "feel", "see", "look", "seem", "want", "need", "try", "use", "keep", "hope", "mean",
        "guess", "thank", "hear", "sound", "wish", "believe", "remember", "forget", "wonder", "ask",
        "appreciate", "agree", "understand", "imagine", "suppose", "bet", "call", "put", "set", "show",
        "help", "find", "check", "miss", "talk", "chat", "share", "send", "reply", "mention", "love",
        "like", "enjoy", "prefer", "hate", "dislike", "happen", "become", "consider", "plan", "expect",
        "manage", "stop", "start", "begin", "continue", "realize", "realise", "notice", "bring",
        "appreciate", "admire", "cherish", "deserve", "owe", "mind", "care", "worry", "reckon", "figure",
        "turn", "hop", "wrap", "swamp", "hit", "spend", "catch", "fill", "cross", "lend",
    ]
)

# Heads of a ccomp whose content the speaker asserts ("I told her I moved to Denver").
REPORT_VERBS: frozenset[str] = frozenset({"say", "mention", "tell", "announce", "explain", "share"})
# Heads of an xcomp that keeps its subject's assertion ("I started working at Stripe").
START_VERBS: frozenset[str] = frozenset({"start", "begin", "continue", "keep", "stop", "quit"})

HEDGES: frozenset[str] = frozenset({"maybe", "perhaps", "probably", "possibly", "hopefully", "supposedly"})
ENDING_ADVERBS: frozenset[str] = frozenset({"anymore", "longer"})

FILLER_ADJECTIVES: frozenset[str] = frozenset(
    [
        "new", "great", "good", "nice", "amazing", "awesome", "lovely", "beautiful", "cute", "big",
        "little", "huge", "small", "such", "same", "favorite", "favourite", "fantastic", "wonderful",
        "incredible", "cool", "adorable", "sweet", "fun", "own", "whole", "entire", "real", "really",
        "very", "so",
    ]
)

# Capitalised words that are not names (greetings, interjections, sentence starters).
NON_NAMES: frozenset[str] = frozenset(
    [
        "hey", "hi", "hello", "thanks", "thank", "wow", "omg", "lol", "haha", "yeah", "yes", "no", "ok",
        "okay", "oh", "congrats", "congratulations", "sure", "well", "so", "and", "but", "also", "btw",
        "mom", "dad", "mum", "grandma", "grandpa", "bro", "dude", "buddy", "guys", "folks", "sir", "madam",
        "god", "lord", "jesus", "christmas", "easter", "thanksgiving", "halloween", "monday", "tuesday",
        "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april",
        "may", "june", "july", "august", "september", "october", "november", "december", "i", "im", "i'm",
        "ive", "i've", "awesome", "great", "cool", "nice", "amazing", "sounds", "glad", "good", "bye",
        "goodbye", "cheers",
    ]
)

IRREGULAR_PAST: dict[str, str] = {
    "be": "was", "begin": "began", "break": "broke", "bring": "brought", "build": "built",
    "buy": "bought", "catch": "caught", "choose": "chose", "come": "came", "do": "did",
    "draw": "drew", "drink": "drank", "drive": "drove", "eat": "ate", "fall": "fell", "feed": "fed",
    "feel": "felt", "fight": "fought", "find": "found", "fly": "flew", "forget": "forgot",
    "get": "got", "give": "gave", "go": "went", "grow": "grew", "have": "had", "hear": "heard",
    "hold": "held", "keep": "kept", "know": "knew", "lead": "led", "learn": "learned",
    "leave": "left", "lend": "lent", "lose": "lost", "make": "made", "meet": "met", "pay": "paid",
    "put": "put", "read": "read", "ride": "rode", "ring": "rang", "run": "ran", "say": "said",
    "see": "saw", "sell": "sold", "send": "sent", "set": "set", "shoot": "shot", "sing": "sang",
    "sit": "sat", "sleep": "slept", "speak": "spoke", "spend": "spent", "stand": "stood",
    "swim": "swam", "take": "took", "teach": "taught", "tell": "told", "think": "thought",
    "throw": "threw", "understand": "understood", "wake": "woke", "wear": "wore", "win": "won",
    "write": "wrote", "bake": "baked", "hang": "hung", "quit": "quit", "cut": "cut", "hit": "hit",
    "dig": "dug", "light": "lit", "stick": "stuck", "sweep": "swept", "weep": "wept",
}

# Rule vocabularies.
SCHOOL_WORDS: tuple[str, ...] = ("university", "college", "school", "academy", "institute", "polytechnic")
JOB_NOUNS: frozenset[str] = frozenset({"job", "position", "role", "gig", "internship", "post", "career"})
LIKE_VERBS: dict[str, str] = {
    "like": "LIKES", "love": "LIKES", "enjoy": "LIKES", "adore": "LIKES", "prefer": "PREFERS",
    "dislike": "DISLIKES", "hate": "DISLIKES", "detest": "DISLIKES", "despise": "DISLIKES",
    "loathe": "DISLIKES",
}
# "went on a hike" / "went for a run": the outing noun -> the activity it names.
OUTINGS: dict[str, str] = {
    "hike": "hiking", "run": "running", "walk": "walking", "swim": "swimming", "ride": "riding",
    "bike": "biking", "jog": "jogging", "camping": "camping", "cruise": "cruising", "picnic": "picnicking",
    "road trip": "road tripping", "date": "dating",
}
VISIT_VERBS: frozenset[str] = frozenset({"go", "travel", "fly", "drive", "head", "return"})
PLAN_TIERS: frozenset[str] = frozenset([
    "free", "basic", "premium", "pro", "plus", "business", "enterprise", "starter", "team", "standard",
    "family", "student", "individual", "professional", "ultimate", "unlimited", "growth", "scale",
])
TITLE_ADJECTIVES: frozenset[str] = frozenset([
    "senior", "junior", "lead", "chief", "head", "principal", "registered", "licensed", "certified",
    "freelance", "professional", "full-time", "part-time", "assistant", "associate", "staff", "executive",
    "clinical", "social", "medical", "graduate",
])
BARE_GERUNDS: frozenset[str] = frozenset([
    "watch", "play", "see", "do", "make", "get", "try", "help", "know", "hear", "sink", "escape", "say",
    "go", "come", "take", "find", "look", "listen", "use", "work",
])
PLAN_VERBS: frozenset[str] = frozenset([
    "be", "upgrade", "downgrade", "switch", "move", "change", "subscribe", "sign", "buy", "purchase",
    "choose", "pick", "select", "get", "have", "use", "cancel", "renew", "end", "terminate", "join", "stay",
])
GENERIC_PREPS: tuple[str, ...] = ("at", "in", "on", "to", "for", "from", "with", "about", "into")
