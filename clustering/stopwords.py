"""Function words of the languages support questions most often come in besides English.

Cluster names come from word counts, and in a mixed-language corpus "la", "ich" and "мой" are
the most frequent words of every cluster. sklearn ships English stop words only; these are the
commonest articles, pronouns, prepositions, auxiliaries and question words of each language.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_BY_LANGUAGE = {
    "es": """a al algo como con cual cuando de del donde el ella en es esta este esto
        estoy hay la las le lo los me mi mis muy no nos o para pero por porque puedo que qué
        se si sin sobre son su sus te tengo tu un una uno y ya cómo dónde cuándo cuánto puede
        ser hace""",
    "fr": """à au aux avec ce ces comment dans de des du elle en est et il je la le les
        leur lui ma mais me mes moi mon ne nous on ou où par pas pour qu que qui sa se ses
        son sur ta te tes toi ton tu un une vos votre vous y est-ce peux puis faut quand""",
    "de": """aber als am an auch auf aus bei bin bis da das dass dem den der des die du
        ein eine einem einen einer es für hat habe ich ihr im in ist ja kann man mein meine
        meinen meinem mich mir mit nach nicht noch nur oder sich sie sind so über um und uns
        von vor warum was wie wo wird zu zum zur""",
    "it": """a al alla che come con da del della di e è gli i il in io la le lo ma mi
        mia mio nel non per perché più posso quando se si sono su un una""",
    "pt": """a ao as com como da das de do dos e é ela ele em eu isso meu minha na no
        não nos o os ou para pela pelo por posso que se sem seu sua um uma""",
    "nl": """aan als bij dat de die dit een en het hoe ik in is je kan met mijn niet of
        om op te van voor waarom wat zijn""",
    "ru": """а без в во вы да для до его её если же за и из или как когда ли мне мой
        моя мои моё мы на не нет но о об от по почему при с со так то у уже что это я""",
}

# Auxiliaries sklearn's English list lacks: "does" named a coarse topic "account / does / plan".
_ENGLISH_EXTRA = "does did doing doesn don didn having"

# Greetings and courtesies that open and close questions anywhere ("Hi team, ... thanks!"):
# at a million questions they named topics "tom thanks / room / school" and "time tia / love".
_COURTESIES = "hi hello hey thanks thank thx tia cheers pls plz please anyone appreciated"

MULTILINGUAL_STOP_WORDS: frozenset[str] = frozenset(ENGLISH_STOP_WORDS).union(
    _ENGLISH_EXTRA.split(),
    _COURTESIES.split(),
    *(words.split() for words in _BY_LANGUAGE.values()),
)
