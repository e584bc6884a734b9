"""Generate the toy world: the small, seeded corpus that every minifm lesson trains on.

    python data/make_toy_world.py              # default seed 0, writes data/toy_world/
    python data/make_toy_world.py --seed 3 --out /tmp/world

The same seed always gives byte-identical files (NumPy + the standard library only).

The world is built so that each paper's claim can be *shown* on it:

1. Names.  Cities and people have two-word names whose halves depend on each other
   ("new york", "north york", "new haven"...). One half alone leaves several choices;
   only the pair is certain. Masking both halves shows why XLNet factorises p(a) p(b | a)
   while BERT predicts p(a) p(b) and can say "new diego".
2. Stories.  Six topics share one story plan: a character is introduced by full name,
   then referred to by first name or pronoun; a goal; steps in their natural order
   ("first ... then ... after that"); a problem, the fix, its result; an ending. Times
   of day only move forward. So sentence order carries information (NSP, SOP).
3. Messages.  Spam and not-spam are written with the same sentence frames; only the
   words in the slots differ, and each slot has many interchangeable words, so every
   single word is rare and the common words ("you", "your", "free", "call") say nothing.
   The "messages" stories quote both kinds, unlabelled, next to how the character
   reacts. A model that learns from this unlabelled text that "voucher" is used like
   "jackpot" can generalise from 32 labelled messages; a bag of words trained on those
   32 alone cannot.

Text format (the tokenizer relies on it): lowercase ASCII words separated by single
spaces; the only punctuation is . , ? ! attached to the word before it.
"""
import argparse
import json
import re
from pathlib import Path

import numpy as np

TOPICS = ("cooking", "travel", "sports", "school", "farm", "messages")
SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
DEFAULT_OUT = Path(__file__).resolve().parent / "toy_world"

# ---------------------------------------------------------------------------------
# 1. Names: the halves of every name depend on each other
# ---------------------------------------------------------------------------------

# Nine second words sit on a 3 x 3 grid. A row word ("new") pairs with its row, a column
# word ("north") with its column. So each first word allows 3 second words, each second
# word allows 2 first words, and 2 out of 3 random (first, second) mixes are not cities.
CITY_ROWS = {
    "new": ("york", "haven", "orleans"),
    "san": ("jose", "marco", "diego"),
    "los": ("gatos", "altos", "angeles"),
}
CITY_COLUMNS = ("north", "west", "port")
CITIES = [(row, second) for row, seconds in CITY_ROWS.items() for second in seconds] + [
    (column, seconds[c]) for c, column in enumerate(CITY_COLUMNS) for seconds in CITY_ROWS.values()
]

# 24 first names and 8 surnames. First name i takes surnames i and i + 3 (mod 8): each
# first name has 2 surnames and each surname 6 first names, so again only the pair is sure.
SHE_NAMES = ("anna", "mia", "lily", "emma", "rosa", "nora", "lucy", "ella", "sara", "kate", "ruth", "jane")
HE_NAMES = ("tom", "ben", "sam", "leo", "max", "jack", "omar", "paul", "luke", "adam", "hugo", "ivan")
SURNAMES = ("parker", "hayes", "morgan", "reed", "carter", "brooks", "foster", "lambert")
FIRST_NAMES = [name for pair in zip(SHE_NAMES, HE_NAMES) for name in pair]  # she, he, she, ...
PRONOUNS = {name: "she" for name in SHE_NAMES} | {name: "he" for name in HE_NAMES}
PEOPLE = [(first, SURNAMES[(i + shift) % len(SURNAMES)])
          for i, first in enumerate(FIRST_NAMES) for shift in (0, 3)]

PRONOUN_FORMS = {"she": {"he": "she", "him": "her", "his": "her"},
                 "he": {"he": "he", "him": "him", "his": "his"}}


def names_table() -> dict:
    """The content of names.json: every two-word name, and each first name's pronoun."""
    return {"cities": [list(pair) for pair in CITIES],
            "people": [list(pair) for pair in PEOPLE],
            "pronouns": PRONOUNS}


# ---------------------------------------------------------------------------------
# 2. A tiny template language: "{who} {chopped} the {vegetable}"
# ---------------------------------------------------------------------------------

SLOT = re.compile(r"\{(\w+)\}")
SENTENCE_FORMAT = re.compile(r"[a-z]+[.,?!]?( [a-z]+[.,?!]?)*")


def pick(options, rng):
    """One element of a list, chosen with the caller's generator."""
    return options[rng.integers(len(options))]


def expand(template: str, rules: dict, rng, bound: dict) -> str:
    """Fill every {slot}: from `bound` (fixed for this story) or a random rule, recursively.

    A bound value may be a function (called at each use), so a character can be named
    in full the first time and by first name afterwards.
    """
    def fill(match):
        slot = match.group(1)
        if slot in bound:
            value = bound[slot]
            return value() if callable(value) else value
        return expand(pick(rules[slot], rng), rules, rng, bound)
    return SLOT.sub(fill, template)


def finish(text: str) -> str:
    """Tidy spaces, end with a full stop if needed, and insist on the corpus format."""
    text = " ".join(text.split())
    if text[-1] not in ".?!":
        text += "."
    if not SENTENCE_FORMAT.fullmatch(text):
        raise ValueError(f"generated text breaks the corpus format: {text!r}")
    return text


class Mention:
    """A person's name: the full name at the first mention, the first name after it."""

    def __init__(self, first: str, surname: str):
        self.first, self.surname, self.introduced = first, surname, False

    def __call__(self) -> str:
        if self.introduced:
            return self.first
        self.introduced = True
        return f"{self.first} {self.surname}"


# ---------------------------------------------------------------------------------
# 3. Stories: one plan for every topic, words from each topic
# ---------------------------------------------------------------------------------

# A story's clock only moves forward: each sentence may name a later time than the last.
TIMES = [
    ["early in the morning", "at dawn", "at sunrise"],
    ["in the morning", "after breakfast", "later that morning"],
    ["at noon", "at lunchtime", "around midday"],
    ["in the afternoon", "after lunch", "later that afternoon"],
    ["in the evening", "at sunset", "before dinner"],
    ["at night", "late at night", "after dinner", "before bed"],
]
OPENINGS = [  # the first sentence sets the starting time: index 0, 1 or 2 of TIMES
    ["early one {weather} morning", "one day at dawn", "on {weekday}, just after sunrise"],
    ["one {weather} morning", "on {weekday} morning", "one morning", "last {weekday}, in the morning"],
    ["one day at noon", "on {weekday} at lunchtime", "around midday on {weekday}"],
]
FIRST_MARKERS = ["first,", "to begin,", "first of all,"]
NEXT_MARKERS = ["then", "next,", "after that,", "later,", "soon after,", "a little later,", "afterwards,"]
PROBLEM_MARKERS = ["but", "suddenly,", "however,", "just then,", "sadly,", "unfortunately,"]
FIX_MARKERS = ["so", "to fix this,", "quickly,", "luckily,", "without waiting,"]
RESULT_MARKERS = ["because of that,", "thanks to that,", "as a result,", "soon", "after a while,"]
ENDING_MARKERS = ["finally,", "in the end,", "at last,"]
GOAL_FORMS = ["{he} wanted to {goal}", "{his} plan was to {goal}", "that day, {he} hoped to {goal}",
              "{he} had promised to {goal}", "{he} had decided to {goal}"]

SHARED_WORDS = {
    "weekday": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "weather": ["sunny", "rainy", "cold", "windy", "warm", "grey", "bright", "cloudy", "quiet"],
    "relative": ["mother", "father", "grandma", "grandpa", "aunt", "uncle", "brother", "sister", "cousin"],
    "happy": ["happy", "glad", "proud", "pleased", "cheerful", "content"],
    "tired": ["tired", "sleepy", "worn out", "exhausted"],
}

# Each topic has a story plan, STORIES[topic], and its own words, TOPIC_WORDS[topic]:
#   intros    the first sentence, which names the hero in full ({name})
#   steps     the steps of a day IN THEIR NATURAL ORDER, each with a few phrasings;
#             a story tells an ordered subset of them
#   troubles  (after_step, problem, fix, result): cause before effect, and the problem
#             can only happen after step number `after_step` of the plan
#   endings   the last sentence
TOPIC_WORDS = {}
STORIES = {}

TOPIC_WORDS["cooking"] = {
    "goal": ["bake a {cake} cake for {his} {relative}", "make {dish} for dinner",
             "cook a big lunch for {his} friends", "prepare a picnic for the weekend",
             "try an old family recipe for {dish}", "cook breakfast for the whole family"],
    "cake": ["chocolate", "lemon", "apple", "carrot", "honey", "cherry", "banana"],
    "dish": ["soup", "stew", "pie", "pasta", "curry", "omelette", "risotto", "pizza", "roast"],
    "market": ["market", "corner shop", "grocery store", "bakery", "farm shop"],
    "ingredient": ["flour and sugar", "eggs and butter", "rice and beans", "cheese and bread",
                   "fresh herbs", "a bag of potatoes", "some ripe tomatoes", "a jar of honey"],
    "vegetable": ["carrots", "onions", "potatoes", "tomatoes", "peppers", "beans", "mushrooms", "leeks"],
    "chopped": ["chopped", "cut", "sliced", "diced"],
    "mixed": ["mixed", "stirred", "whisked", "beat"],
    "fat": ["butter", "olive oil", "oil"],
    "spice": ["salt", "pepper", "garlic", "basil", "thyme", "cinnamon", "paprika"],
    "guests": ["guests", "friends", "family", "neighbours", "children"],
    "pot": ["pot", "pan", "baking tray", "saucepan"],
}
STORIES["cooking"] = dict(
    intros=["{opening}, {name} woke up hungry in {his} small flat in {city}",
            "{opening}, {name} walked into {his} kitchen in {city}",
            "{opening}, {name} tied on an apron in {his} home in {city}",
            "{opening}, {name} opened the kitchen of {his} little cafe in {city}"],
    steps=[["{who} went to the {market} and bought {ingredient}",
            "{who} picked up {ingredient} at the {market}",
            "{who} checked the fridge and made a list of what {he} needed"],
           ["{who} washed the {vegetable} in cold water",
            "{who} rinsed the {vegetable} and dried them with a towel"],
           ["{who} {chopped} the {vegetable} on a wooden board",
            "with a sharp knife, {who} {chopped} the {vegetable}"],
           ["{who} {mixed} {ingredient} in a big bowl",
            "{who} {mixed} the batter until it was smooth"],
           ["{who} heated some {fat} in a {pot}",
            "{who} turned on the oven and waited for it to get hot"],
           ["{who} put the {dish} in the oven",
            "{who} let the {dish} cook slowly for an hour",
            "{who} fried the {vegetable} until they were golden"],
           ["{who} tasted the {dish} and added a little {spice}",
            "{who} sprinkled some {spice} on top"],
           ["{who} set the table with plates and candles",
            "{who} put fresh flowers in a vase on the table"],
           ["{who} served the {dish} to {his} {guests}",
            "{who} carried the hot {dish} to the table"]],
    troubles=[(4, "the oven stopped working", "{who} borrowed a {pot} from {friend} and cooked on the stove",
               "the {dish} was ready on time"),
              (2, "{who} had run out of eggs", "{who} ran next door and asked {friend} for a few eggs",
               "the {cake} cake rose nicely"),
              (6, "the {dish} was far too salty", "{who} added water and a few potatoes",
               "the {dish} tasted just right"),
              (2, "the milk in the fridge had gone sour", "{who} hurried to the {market} for fresh milk",
               "the batter was smooth and sweet"),
              (4, "{who} burned {his} finger on the hot {pot}", "{friend} came over and helped with the cooking",
               "the meal was finished together"),
              (3, "the power went out in the whole street", "{who} lit the old gas stove",
               "dinner was only a little late"),
              (5, "the {dish} burned at the bottom of the {pot}", "{who} started again with fresh {vegetable}",
               "the second try was much better")],
    endings=["{who} and {his} {guests} ate until they were full",
             "everyone said it was the best {dish} they had ever eaten",
             "{who} washed the dishes and went to bed {happy}",
             "{who} wrote the recipe in {his} notebook so {he} would not forget it"],
)

TOPIC_WORDS["travel"] = {
    "goal": ["visit {his} {relative} in {city2}", "spend a week in {city2}", "see the {sight} in {city2}",
             "go to a meeting in {city2}", "find a quiet beach near {city2}"],
    "luggage": ["suitcase", "backpack", "heavy bag", "small bag"],
    "sight": ["old bridge", "museum", "cathedral", "tower", "castle", "zoo", "market square",
              "palace", "lighthouse", "botanic garden"],
    "landscape": ["green hills", "fields of wheat", "tiny villages", "a wide river", "snowy mountains",
                  "the grey sea"],
    "local_food": ["fresh fish", "spicy noodles", "hot dumplings", "grilled corn", "sweet pastries"],
    "cafe": ["cafe", "restaurant", "food stall", "diner"],
}
STORIES["travel"] = dict(
    intros=["{opening}, {name} packed a bag in {his} flat in {city}",
            "{opening}, {name} left {his} home in {city} with a {luggage}",
            "{opening}, {name} set off on a trip from {city}",
            "{opening}, {name} said goodbye to {his} {relative} in {city}"],
    steps=[["{who} checked the timetable and bought a ticket to {city2}",
            "{who} booked a seat on the {vehicle} to {city2}"],
           ["{who} walked to the {station} with {his} {luggage}",
            "{who} took a taxi to the {station}"],
           ["{who} showed {his} ticket and found a seat by the window",
            "{who} climbed aboard the {vehicle} and sat down"],
           ["through the window, {who} watched {landscape} pass by",
            "{who} read a book while the {vehicle} rolled on"],
           ["{who} arrived in {city2} and stretched {his} legs",
            "the {vehicle} reached {city2}, and {who} stepped out"],
           ["{who} found {his} hotel near the {sight}",
            "{who} checked in at a small hotel in the centre of {city2}"],
           ["{who} visited the {sight} and took many photos",
            "{who} walked around the {sight} with a map"],
           ["{who} ate {local_food} at a busy {cafe}",
            "{who} tried {local_food} at a {cafe} by the river"],
           ["{who} bought a postcard and wrote to {his} {relative}",
            "{who} sent a photo of the {sight} to {his} {relative}"]],
    troubles=[(1, "the {vehicle} was two hours late", "{who} waited in a cafe and read the paper",
               "{who} still reached {city2} before dark"),
              (1, "{who} could not find {his} ticket", "{who} searched every pocket and found it in {his} shoe",
               "the guard let {him} get on"),
              (5, "it started to rain heavily", "{who} bought a cheap umbrella at a kiosk",
               "{he} stayed dry"),
              (4, "the hotel had no free rooms", "{who} called {friend}, who lived in {city2}",
               "{who} slept in a spare room at the house of {friend}"),
              (6, "{who} got lost in the narrow streets", "{who} asked a police officer for directions",
               "{who} found the way back to the hotel"),
              (7, "{who} missed the last bus", "{who} shared a taxi with {friend}",
               "{he} reached the hotel safely")],
    endings=["{who} fell asleep {happy} in {city2}",
             "{who} promised to come back to {city2} one day",
             "{who} wrote about the trip in {his} diary",
             "{who} looked at the photos and smiled"],
)

TOPIC_WORDS["sports"] = {
    "goal": ["win the {sport} {contest} against the team from {city2}", "beat {his} best time",
             "play well in the big {contest}", "make the coach proud"],
    "breakfast": ["porridge", "toast and eggs", "fruit and yogurt", "oats with honey"],
    "teammates": ["teammates", "coach", "friends from the club"],
    "stretches": ["stretches", "short sprints", "jumping jacks", "easy laps"],
    "trophy": ["trophy", "medal", "cup", "prize"],
}
SPORTS = {  # each story draws one sport; its words stay fixed for the whole story
    "football": dict(place="pitch", gear="boots", contest="match", score="scored a goal"),
    "tennis": dict(place="court", gear="racket", contest="match", score="hit a perfect serve"),
    "basketball": dict(place="gym", gear="trainers", contest="game", score="threw the ball through the hoop"),
    "swimming": dict(place="pool", gear="goggles", contest="race", score="swam the fastest length"),
    "running": dict(place="track", gear="running shoes", contest="race", score="passed two runners"),
    "hockey": dict(place="rink", gear="skates", contest="game", score="shot the puck into the net"),
}
STORIES["sports"] = dict(
    intros=["{opening}, {name} packed {his} {gear} for {sport} practice in {city}",
            "{opening}, {name} jogged to the {place} in {city}",
            "{opening}, {name}, who loved {sport}, woke up excited in {city}",
            "{opening}, {name} put on {his} {sport} kit at home in {city}"],
    steps=[["{who} ate a light breakfast of {breakfast}", "{who} had {breakfast} for breakfast"],
           ["{who} packed {his} {gear} and a bottle of water", "{who} checked {his} {gear} twice"],
           ["{who} got to the {place} and greeted {his} {teammates}",
            "{who} met {his} {teammates} at the {place}"],
           ["{who} warmed up with some {stretches}", "{who} did {stretches} to warm up"],
           ["the coach told {him} to stay calm and focused", "{who} listened carefully to the coach"],
           ["when the {contest} began, {who} {score}", "early in the {contest}, {who} {score}"],
           ["during the break, {who} drank some water and caught {his} breath",
            "at the break, {who} sat down and rested {his} legs"],
           ["near the end, {who} {score} again", "in the last minutes, {who} {score}"],
           ["when the {contest} ended, the crowd cheered loudly",
            "the {contest} ended, and everyone shook hands"]],
    troubles=[(5, "{who} twisted {his} ankle", "{who} put ice on it and rested on the bench",
               "the pain went away and {he} could play again"),
              (3, "it began to rain, and the {place} became slippery", "{who} moved carefully and kept {his} balance",
               "{he} did not fall once"),
              (5, "the other team took the lead", "{who} and {friend} made a clever plan",
               "the team caught up and took the lead"),
              (1, "{who} forgot {his} {gear} at home", "{friend} lent {him} a spare pair",
               "{who} was able to play after all"),
              (2, "{who} felt very nervous", "{who} took a few deep breaths",
               "{his} hands stopped shaking")],
    endings=["{his} team won the {contest}, and everyone got a {trophy}",
             "{who} did not win, but {he} was proud of the effort",
             "{who} went home {tired} but {happy}",
             "{who} told {his} {relative} all about the {contest}"],
)

TOPIC_WORDS["school"] = {
    "goal": ["do well in a big {subject} test", "finish {his} {subject} project",
             "visit the {trip} with {his} class", "get a good mark in {subject}"],
    "subject": ["maths", "science", "history", "music", "art", "english", "geography"],
    "trip": ["science museum", "city library", "old castle", "local farm", "art gallery"],
    "school_items": ["books and pencils", "lunch box", "school bag", "ruler and notebook"],
    "lesson_topic": ["fractions", "volcanoes", "the solar system", "old kings", "rivers and lakes",
                     "plants and seeds", "long division"],
    "game": ["tag", "football", "skipping", "hide and seek", "marbles"],
    "lab_thing": ["magnets", "a small plant", "coloured water", "a battery and a bulb"],
    "book": ["an adventure story", "a book about whales", "a funny comic", "a fairy tale"],
}
STORIES["school"] = dict(
    intros=["{opening}, {name} put on {his} school uniform in {city}",
            "{opening}, {name} caught the school bus in {city}",
            "{opening}, {name} walked to school in {city} with {his} {relative}",
            "{opening}, {name} woke up and remembered it was a school day"],
    steps=[["{who} ate breakfast and packed {his} {school_items}", "{who} put {his} {school_items} in {his} bag"],
           ["{who} arrived at school just before the bell", "{who} hung up {his} coat and sat at {his} desk"],
           ["{who} listened as the teacher explained {lesson_topic}",
            "the teacher gave a lesson on {lesson_topic}"],
           ["{who} wrote careful notes in {his} notebook",
            "{who} raised {his} hand and asked a question about {lesson_topic}"],
           ["during the break, {who} played {game} with {his} classmates",
            "at break time, {who} played {game} in the yard"],
           ["{who} ate lunch in the canteen with {friend}", "{who} shared {his} lunch with {friend}"],
           ["in the {subject} lesson, {who} did an experiment with {lab_thing}",
            "{who} and {his} group tested {lab_thing} in the lab"],
           ["{who} read {book} in the library", "{who} borrowed {book} from the library"],
           ["{who} went home and did {his} homework at the kitchen table",
            "{who} finished {his} homework before dinner"]],
    troubles=[(1, "{who} had forgotten {his} homework at home",
               "{who} told the teacher the truth and promised to bring it", "the teacher gave {him} one more day"),
              (3, "the test was much harder than {he} expected", "{who} read each question slowly and did {his} best",
               "{he} passed with a good mark"),
              (2, "{who} lost {his} pencil case", "{friend} lent {him} a pen and a ruler",
               "{who} could finish the work"),
              (4, "a storm broke out during the break", "the class went into the hall and played quiet games",
               "nobody got wet"),
              (2, "{who} did not understand the lesson on {lesson_topic}",
               "{who} asked {friend} to explain it after class", "{he} understood it at last")],
    endings=["{who} told {his} {relative} all about {his} day",
             "{who} went to bed early because there was school the next day",
             "{who} packed {his} bag for the next morning",
             "{who} drew a picture of {lesson_topic} before bed"],
)

TOPIC_WORDS["farm"] = {
    "goal": ["bring in the {crop} before the rain", "sell eggs and cheese at the market in {city}",
             "fix the old fence around the meadow", "plant {crop} in the big field"],
    "crop": ["wheat", "corn", "potatoes", "barley", "cabbages", "pumpkins", "beans"],
    "animals": ["chickens", "pigs", "goats", "sheep", "ducks", "cows", "horses"],
    "fruit": ["apples", "pears", "plums", "strawberries", "cherries"],
    "farm_place": ["barn", "hen house", "orchard", "meadow", "stable"],
}
STORIES["farm"] = dict(
    intros=["{opening}, {name} walked out to the {farm_place} on {his} farm near {city}",
            "{opening}, {name} fed the dog and pulled on {his} boots outside {city}",
            "{opening}, {name} heard the rooster crow on {his} farm near {city}",
            "{opening}, {name} opened the gate of {his} farm outside {city}"],
    steps=[["{who} fed the {animals} and filled their water trough", "{who} gave the {animals} fresh hay"],
           ["{who} collected a basket of brown eggs from the hen house", "{who} gathered the eggs one by one"],
           ["{who} milked the cows in the barn", "{who} led the cows into the barn to be milked"],
           ["{who} cleaned the {farm_place} and spread fresh straw", "{who} swept out the {farm_place}"],
           ["{who} drove the tractor to the big field", "{who} hitched the plough to the tractor"],
           ["{who} planted rows of {crop}", "{who} pulled weeds between the rows of {crop}"],
           ["{who} watered the {crop} with a long hose", "{who} checked the {crop} for pests"],
           ["{who} picked ripe {fruit} and put them in crates", "{who} filled a cart with {fruit}"],
           ["{who} loaded the truck and drove to the market in {city}",
            "{who} sold {fruit} and eggs at the market in {city}"]],
    troubles=[(1, "a fox was seen near the hen house", "{who} fixed the hole in the fence with wire",
               "the hens were safe that night"),
              (2, "one of the cows escaped from the meadow", "{who} and {friend} chased it across the field",
               "the cow was back in the barn by lunch"),
              (3, "the tractor would not start", "{who} asked {friend} from the next farm to look at it",
               "the engine roared again"),
              (5, "there had been no rain for weeks", "{who} dug a ditch to bring water from the river",
               "the {crop} began to grow again"),
              (5, "birds were eating the seeds", "{who} built a scarecrow from old clothes",
               "the birds stayed away")],
    endings=["{who} sat on the porch and watched the stars",
             "{who} counted the money from the market and smiled",
             "the {animals} were asleep, and so was {who}",
             "{who} went to bed {tired} after a long day on the farm"],
)


VEHICLES = {"train": "station", "night train": "station", "bus": "bus station", "coach": "bus station",
            "plane": "airport", "ferry": "harbour"}
# Slots that keep one value for a whole story: it is about one stew, one crop, one sight.
STORY_CONSTANTS = {"cooking": ("dish", "cake", "guests", "pot"), "travel": ("sight", "luggage"),
                   "sports": (), "school": ("subject",), "farm": ("crop", "animals", "fruit")}


def story_words(topic: str, rules: dict, rng) -> dict:
    """Words fixed for one whole story (its dish, its vehicle, its sport...), chosen once."""
    fixed = {slot: expand(pick(rules[slot], rng), rules, rng, {}) for slot in STORY_CONSTANTS[topic]}
    if topic == "sports":
        sport = pick(list(SPORTS), rng)
        fixed |= {"sport": sport, **SPORTS[sport]}
    if topic == "travel":
        vehicle = pick(list(VEHICLES), rng)
        fixed |= {"vehicle": vehicle, "station": VEHICLES[vehicle]}
    return fixed


def tell_story(topic: str, hero: Mention, friend: Mention, cities, rng) -> list[str]:
    """One story: intro, an optional goal, ordered steps, problem -> fix -> result, ending."""
    plan = STORIES[topic]
    rules = SHARED_WORDS | TOPIC_WORDS[topic]
    forms = PRONOUN_FORMS[PRONOUNS[hero.first]]
    bound = {"name": hero, "friend": friend, "city": cities[0], "city2": cities[1], **forms,
             **story_words(topic, rules, rng),
             # After the first sentence the hero is "anna" or "she": never a pronoun first.
             "who": lambda: hero() if rng.random() < 0.35 else forms["he"]}

    def say(marker: str, template: str) -> str:
        return finish(expand(f"{marker} {template}", rules, rng, bound))

    clock = int(rng.integers(3))
    bound["opening"] = expand(pick(OPENINGS[clock], rng), rules, rng, {})
    sentences = [say("", pick(plan["intros"], rng))]

    has_goal = rng.random() < 0.7
    if has_goal:
        sentences.append(say("", pick(GOAL_FORMS, rng)))
    n_steps = int(rng.integers(0, 6 - has_goal))
    chosen = np.sort(rng.choice(len(plan["steps"]), size=n_steps, replace=False))
    # Each trouble belongs after a step of the plan (no lost ticket once on the train):
    # it comes after every chosen step up to that one.
    after_step, problem, fix, result = pick(plan["troubles"], rng)
    trouble_at = int(np.sum(chosen <= after_step))

    for i in range(n_steps + 1):
        if i == trouble_at:
            sentences.append(say(pick(PROBLEM_MARKERS, rng), problem))
            sentences.append(say(pick(FIX_MARKERS, rng), fix))
            sentences.append(say(pick(RESULT_MARKERS, rng), result))
        if i == n_steps:
            break
        if rng.random() < 0.35 and clock < 4:
            clock += int(rng.integers(1, 3)) if clock < 3 else 1
            marker = pick(TIMES[clock], rng) + ","
        else:
            marker = pick(FIRST_MARKERS if i == 0 < trouble_at else NEXT_MARKERS, rng)
        sentences.append(say(marker, pick(plan["steps"][chosen[i]], rng)))

    if rng.random() < 0.6:  # the ending names a later time, or just closes the story
        clock = int(rng.integers(max(clock + 1, 4), 6))
        sentences.append(say(pick(TIMES[clock], rng) + ",", pick(plan["endings"], rng)))
    else:
        sentences.append(say(pick(ENDING_MARKERS, rng), pick(plan["endings"], rng)))
    return sentences


# ---------------------------------------------------------------------------------
# 4. Messages: spam and not-spam written with the same sentence frames
# ---------------------------------------------------------------------------------

# Both kinds of message use the SAME frames; only the words in the slots differ. So the
# common words ("you", "the", "your", "?", "!") say nothing about the kind, and the kind
# lives in many rare content words: "a voucher" and "a jackpot" fill the same slot, as do
# "a postcard" and "a birthday card". A few words sit on both sides ("free", "waiting",
# "help"), and now and then one slot takes a word of the other side: a friend's parcel,
# a scam about a photo. Learning which words are alike needs no labels, only text.
FRAMES = [
    "you have {got} {present} from {giver}!",
    "can you {fetch} the {thing} {when}?",
    "your {item} is {state} at the {place}.",
    "please {act} before {deadline}.",
    "do you want {goods} for {price}?",
    "{we} {noticed} {sight} {where}.",
    "{call} {contact} {soon}.",
    "we have {offer} for you, {tail}.",
    "the {event} {starts} at {clock}.",
    "thank you for {thanks_for}.",
    "i need your {help} {purpose}.",
    "you can {use} {stuff} {how}.",
    "{news}, {news_thing} is {news_state}!",
    "i {saw} your {photo} {seen_where}.",
    "your {trip} to {city} is {trip_state}.",
]
GREETING = "{hello} {reader},"
SIGN_OFF = "{bye}, {signer}."

MESSAGE_WORDS = {  # words both kinds use alike
    "noticed": ["noticed", "saw", "found", "spotted"],
    "call": ["call", "ring", "text", "phone", "message"],
    "starts": ["starts", "begins", "opens", "ends", "finishes"],
    "clock": ["five", "six", "seven", "noon", "midnight", "half past four", "ten", "three"],
    "news": ["good news", "great news", "guess what", "hooray", "yay", "wow"],
    "saw": ["saw", "liked", "loved", "found"],
    "hello": ["hi", "hello", "dear", "hey", "good morning"],
    "bye": ["love", "regards", "thanks", "cheers", "best wishes", "bye", "see you"],
}
SLOTS = {  # slot -> (not-spam words, spam words)
    "got": (["got", "received", "been sent", "been given", "just got"],
            ["won", "been awarded", "been chosen for", "unlocked", "qualified for", "earned", "been picked for",
             "been given"]),
    "present": (["a postcard", "a birthday card", "an invitation", "a small present", "a drawing", "a letter",
                 "a parcel", "a thank you card", "a book", "a prize"],
                ["a cash prize", "a voucher", "a jackpot", "a bonus", "a reward", "a gift card", "a free cruise",
                 "a shopping spree", "a holiday", "a payout"]),
    "giver": (["grandma", "your aunt", "the school", "your teacher", "your cousin", "our neighbours",
               "our football club", "grandpa", "your uncle"],
              ["our lottery", "the prize team", "our sponsors", "the rewards club", "a lucky draw", "our store",
               "the bonus desk", "our partners", "the jackpot fund"]),
    "fetch": (["bring", "return", "fetch", "fix", "carry", "wash", "find", "look for"],
              ["confirm", "verify", "unlock", "update", "validate", "restore", "approve", "renew"]),
    "thing": (["umbrella", "bike", "tent", "guitar", "charger", "blue jacket", "lunch box", "football", "ladder",
               "camera"],
              ["payment", "account", "password", "login", "transfer", "card number", "pin", "security code",
               "billing address", "bank details"]),
    "when": (["tomorrow", "after school", "on {weekday}", "this weekend", "later", "after dinner", "tonight",
              "before the trip"],
             ["today", "within an hour", "right now", "at once", "before midnight", "immediately", "without delay",
              "in the next hour"]),
    "item": (["bike", "coat", "library book", "cake", "watch", "jacket", "photo print", "shoe", "lost glove"],
             ["parcel", "prize", "reward", "package", "refund", "payout", "cheque", "shipment", "bonus"]),
    "state": (["ready", "fixed", "waiting", "cleaned", "still", "safe"],
              ["held", "blocked", "frozen", "on hold", "stuck", "waiting", "locked", "kept"]),
    "place": (["repair shop", "library", "front desk", "bakery", "school office", "bus stop", "sports hall",
               "corner shop"],
              ["depot", "customs office", "sorting centre", "claims office", "warehouse", "border", "post hub",
               "payment centre"]),
    "act": (["come home", "feed the cat", "tidy your room", "call grandma", "water the plants", "lock the door",
             "walk the dog", "pack your bag"],
            ["reply", "pay the fee", "send your details", "claim it", "act", "click the link", "sign up", "register"]),
    "deadline": (["dinner", "bedtime", "six", "we leave", "the match", "school", "the guests come", "it gets dark"],
                 ["midnight", "the offer ends", "it expires", "it is too late", "the deadline", "the timer stops",
                  "the stock runs out", "others do"]),
    "goods": (["a slice of cake", "some apples", "my old bike", "a lift", "some soup", "the spare ticket",
               "a cup of tea", "some eggs", "my old books"],
              ["cheap watches", "designer bags", "miracle pills", "cheap perfume", "discount phones", "diet tea",
               "herbal capsules", "luxury sunglasses", "gold coins"]),
    "price": (["later", "lunch", "the trip", "the weekend", "free", "nothing", "your birthday", "the picnic"],
              ["half price", "almost nothing", "a tiny fee", "one dollar", "ninety percent off", "free", "a few coins",
               "a bargain price"]),
    "we": (["we", "i", "mom", "dad", "grandpa", "our class"], ["we", "i", "our team", "our system", "security",
                                                                 "the bank"]),
    "sight": (["a lost puppy", "a rainbow", "a little bird", "a funny sign", "your scarf", "a hedgehog",
               "your gloves", "a big frog"],
              ["a strange login", "unusual activity", "a suspicious payment", "an odd transfer", "a risky withdrawal",
               "a failed payment", "an unknown device", "a blocked charge"]),
    "where": (["in the garden", "near the park", "at the station", "by the river", "in the hall", "under the bench",
               "on the roof"],
              ["on your account", "on your card", "in your wallet", "on your profile", "in your mailbox",
               "on your bank card", "in your records"]),
    "contact": (["me", "us", "grandma", "mom", "dad", "our coach", "your sister"],
                ["us", "our agent", "the hotline", "this number", "our office", "the claims desk", "our free line",
                 "me"]),
    "soon": (["later", "tonight", "when you are free", "after school", "when you land", "when you wake up",
              "on {weekday}"],
             ["now", "today", "at once", "to claim it", "without delay", "within the hour", "before it is gone"]),
    "offer": (["a cake", "a surprise", "dinner", "a picnic", "a card", "a song", "a present", "a warm bed"],
              ["a special offer", "a secret deal", "an exclusive bonus", "a private loan", "a free trial",
               "a hot deal", "a cash advance", "a vip upgrade"]),
    "tail": (["come and see", "it is in the fridge", "it is a surprise", "do not tell anyone", "see you soon",
              "come by later"],
             ["but it ends tonight", "but only today", "reply to get it", "claim it now", "do not miss it",
              "act fast"]),
    "event": (["match", "picnic", "concert", "school fair", "party", "rehearsal", "class trip", "barbecue"],
              ["sale", "auction", "draw", "giveaway", "promotion", "flash sale", "raffle", "clearance"]),
    "thanks_for": (["the lovely card", "your help", "the cake", "coming to my party", "the ride home",
                    "the flowers", "the nice dinner", "lending me your bike", "the little prize"],
                   ["your order", "choosing us", "being a loyal customer", "your payment", "joining our club",
                    "your trust", "signing up", "your last purchase"]),
    "help": (["help", "advice", "ladder", "notes", "big pot", "opinion", "tent", "umbrella"],
             ["help", "bank details", "signature", "account number", "card details", "trust", "password", "pin"]),
    "purpose": (["with my homework", "for the move", "for the garden", "tomorrow", "for the trip", "for the cake",
                 "before the test"],
                ["to move a fortune", "to release the funds", "to send your prize", "to finish the transfer",
                 "to claim the estate", "to unlock your reward", "to pay the tax"]),
    "use": (["see", "borrow", "use", "keep", "try", "share"], ["earn", "win", "make", "get", "double", "collect"]),
    "stuff": (["my bike", "the big tent", "the old camera", "my notes", "the spare room", "my skates",
               "the garden hose"],
              ["big money", "easy cash", "a fortune", "your savings", "a thousand dollars", "free coins",
               "a second income"]),
    "how": (["at my house", "this weekend", "after school", "any time", "for the trip", "until {weekday}"],
            ["from home", "in one week", "with no work", "with our system", "with one click", "while you sleep",
             "with my method"]),
    "news_thing": (["the puppy", "grandma", "the cake", "the garden", "your sister", "the baby", "the kitten",
                    "dad"],
                   ["the jackpot", "your prize", "the reward", "the bonus", "your refund", "your loan", "the cash",
                    "your voucher"]),
    "news_state": (["home", "better", "ready", "finished", "here", "asleep", "back"],
                   ["yours", "waiting", "unlocked", "ready", "approved", "released", "paid out"]),
    "photo": (["drawing", "painting", "dog", "garden", "haircut", "cake", "poem"],
              ["profile", "photo", "account", "number", "email", "picture"]),
    "seen_where": (["at the fair", "on the fridge", "in the park", "at school", "at the party", "in the hall",
                    "in our garden"],
                   ["online", "on our site", "in our list", "on a dating site", "in our database", "on the web"]),
    "trip": (["train", "bus", "flight", "ferry", "coach"],
             ["free flight", "prize trip", "holiday", "cruise", "vip trip"]),
    "trip_state": (["late", "on time", "delayed", "full", "cancelled"],
                   ["confirmed", "booked", "waiting", "approved", "reserved"]),
    "reader": (["{to}", "{to}", "{to}", "friend", "everyone", "sweetie", "team"],
               ["{to}", "{to}", "customer", "friend", "user", "winner", "member", "sir"]),
    "signer": (["mom", "dad", "grandma", "your sister", "{from}", "{from}", "coach"],
               ["the prize team", "customer service", "the rewards club", "your bank", "the delivery team",
                "security", "the lottery desk", "{from}"]),
}
FLIP_PROBABILITY = 0.2  # chance that one slot of a message takes a word of the other kind


def write_message(label: int, to: str, sender: str, city: str, rng, max_sentences: int = 4) -> list[str]:
    """A message as a list of sentences: an optional greeting, one to three frames, an
    optional sign-off; every slot filled from the words of `label` (1 = spam, 0 = not).

    `to` is the reader's first name, `sender` the writer's, `city` a city one may name.
    """
    n_frames = min(int(rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2])), max_sentences)
    lines = [FRAMES[i] for i in rng.choice(len(FRAMES), size=n_frames, replace=False)]
    if rng.random() < 0.6:
        lines[0] = GREETING + " " + lines[0]
    if rng.random() < 0.35 and len(lines) < max_sentences:
        lines.append(SIGN_OFF)
    rules = SHARED_WORDS | MESSAGE_WORDS | {slot: words[label] for slot, words in SLOTS.items()}
    bound = {"to": to, "from": sender, "city": city}
    slots_used = [slot for line in lines for slot in SLOT.findall(line) if slot in SLOTS]
    if len(slots_used) >= 3 and rng.random() < FLIP_PROBABILITY:
        slot = pick(slots_used, rng)
        bound[slot] = expand(pick(SLOTS[slot][1 - label], rng), rules, rng, bound)
    return [finish(expand(line, rules, rng, bound)) for line in lines]


INBOX_INTROS = ["{opening}, {name} checked {his} phone at home in {city}",
                "{opening}, {name} opened {his} mailbox in {city}",
                "{opening}, {name} sat down in {city} to read {his} messages",
                "{opening}, {name} looked at {his} phone on the bus in {city}"]
INBOX_COUNTS = ["{he} had two unread messages", "there were two messages waiting for {him}",
                "{his} phone showed two fresh messages"]
ANNOUNCE = ["{order} message came from {sender}", "{order} text arrived from {sender}",
            "{order} note came in from {sender}"]
INBOX_ENDINGS = ["{who} put {his} phone away and made some tea", "{who} turned off {his} phone and read a book",
                 "{who} put {his} phone down and smiled", "{who} cleaned up {his} inbox and went outside"]
SENDERS = (["{friend}", "{his} old friend {friend}", "{friend} from school", "{his} neighbour {friend}",
            "{his} cousin {friend}"],
           ["an unknown number", "a strange address", "a company {he} had never heard of",
            "someone {he} did not know", "a number {he} did not recognise"])
REACTIONS = (["{who} smiled and wrote back at once", "{who} replied that {he} would be there",
              "{who} was glad and answered quickly", "{who} called back right away",
              "{who} saved the message to answer later", "{who} sent back a happy face",
              "{who} read it twice and laughed"],
             ["{who} did not trust it and deleted it", "{who} thought it was a trick and ignored it",
              "{who} blocked the sender at once", "{who} knew it was a scam and reported it",
              "{who} laughed and threw it away", "{who} did not click anything and deleted it",
              "{who} shook {his} head and marked it as junk"])


def tell_inbox_story(hero: Mention, friend: Mention, cities, rng, taken: set) -> list[str]:
    """A 'messages' story: the hero reads one or two messages, spam or not, and reacts.

    The messages are unlabelled here, but the reaction around them is a clue to their kind:
    distributional evidence a pre-trained model can use. Texts in `taken` (the labelled
    spam data set) are not reused, so no labelled message leaks into the stories.
    """
    forms = PRONOUN_FORMS[PRONOUNS[hero.first]]
    bound = {"name": hero, "friend": friend, "city": cities[0], **forms,
             "who": lambda: hero() if rng.random() < 0.35 else forms["he"]}

    def say(marker: str, template: str, rules: dict) -> str:
        return finish(expand(f"{marker} {template}", SHARED_WORDS | rules, rng, bound))

    clock = int(rng.integers(3))
    bound["opening"] = expand(pick(OPENINGS[clock], rng), SHARED_WORDS, rng, {})
    sentences = [say("", pick(INBOX_INTROS, rng), {})]
    n_messages = int(rng.integers(1, 3))
    if n_messages == 2 and rng.random() < 0.4:
        sentences.append(say("", pick(INBOX_COUNTS, rng), {}))
    orders = pick([("the first", "the second"), ("the first", "the last"), ("the first", "the other")], rng)
    for m in range(n_messages):
        # room for this message's lines, keeping 3 sentences for each later message,
        # 2 for this one's announcement and reaction, and 1 for the ending: at most 10
        room = 10 - len(sentences) - 3 - 3 * (n_messages - m - 1)
        if room < 1:
            break
        label = int(rng.random() < 0.5)
        words = {"sender": SENDERS[label], "reaction": REACTIONS[label]}
        bound["order"] = orders[m] if n_messages > 1 else "a"
        sentences.append(say("", pick(ANNOUNCE, rng), words))
        sender = friend.first if label == 0 else pick(FIRST_NAMES, rng)  # who signs it, if anyone
        while True:  # no run of its lines may be a labelled message
            message = write_message(label, hero.first, sender, cities[1], rng, max_sentences=min(room, 3))
            n = len(message)
            runs = {" ".join(message[i:j]) for i in range(n) for j in range(i + 1, n + 1)}
            if not runs & taken:
                break
        sentences += message
        sentences.append(say("", "{reaction}", words))
    sentences.append(say(pick(TIMES[int(rng.integers(max(clock + 1, 4), 6))], rng) + ",",
                         pick(INBOX_ENDINGS, rng), {}))
    return sentences


# ---------------------------------------------------------------------------------
# 5. The world: documents, the spam data set, splits, files
# ---------------------------------------------------------------------------------

def make_documents(n_docs: int, rng, taken: set) -> list[dict]:
    """n_docs stories, the topics in turn; each has its own hero, friend and two cities."""
    docs = []
    for i in range(n_docs):
        topic = TOPICS[i % len(TOPICS)]
        hero = Mention(*PEOPLE[rng.integers(len(PEOPLE))])
        others = [person for person in PEOPLE if person[0] != hero.first]
        friend = Mention(*others[rng.integers(len(others))])
        first_city, second_city = rng.choice(len(CITIES), size=2, replace=False)
        cities = (" ".join(CITIES[first_city]), " ".join(CITIES[second_city]))
        if topic == "messages":
            sentences = tell_inbox_story(hero, friend, cities, rng, taken)
        else:
            sentences = tell_story(topic, hero, friend, cities, rng)
        docs.append({"id": i, "topic": topic, "sentences": sentences})
    return docs


def make_spam(n_messages: int, rng) -> list[dict]:
    """n_messages distinct labelled messages, half spam (label 1), half not (label 0)."""
    messages, seen = [], set()
    for i in range(n_messages):
        label = i % 2
        while True:
            city = " ".join(CITIES[rng.integers(len(CITIES))])
            lines = write_message(label, pick(FIRST_NAMES, rng), pick(FIRST_NAMES, rng), city, rng)
            text = " ".join(lines)
            if text not in seen:
                break
        seen.add(text)
        messages.append({"text": text, "label": label})
    return messages


def split(items: list[dict], key: str, rng) -> dict[str, list[dict]]:
    """Shuffle and cut 80/10/10, separately for each value of `key`, so every split
    keeps the same mix of topics (or labels)."""
    parts = {name: [] for name in SPLIT_FRACTIONS}
    for value in sorted({item[key] for item in items}):
        group = [item for item in items if item[key] == value]
        order = rng.permutation(len(group))
        n_train = round(SPLIT_FRACTIONS["train"] * len(group))
        n_valid = round(SPLIT_FRACTIONS["valid"] * len(group))
        cuts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid],
                "test": order[n_train + n_valid:]}
        for name, indices in cuts.items():
            parts[name] += [group[j] for j in indices]
    for name, rows in parts.items():  # mix the groups again
        parts[name] = [rows[j] for j in rng.permutation(len(rows))]
    return parts


def make_world(seed: int = 0, n_docs: int = 3000, n_messages: int = 3000) -> dict:
    """The whole world in memory: {"docs": {split: rows}, "spam": {split: rows}, "names": ...}."""
    rng = np.random.default_rng(seed)
    spam = make_spam(n_messages, rng)
    docs = make_documents(n_docs, rng, taken={message["text"] for message in spam})
    return {"docs": split(docs, "topic", rng), "spam": split(spam, "label", rng), "names": names_table()}


def write_world(world: dict, out_dir: Path) -> None:
    """Write docs_{split}.jsonl, spam_{split}.jsonl and names.json into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("docs", "spam"):
        for name, rows in world[kind].items():
            with open(out_dir / f"{kind}_{name}.jsonl", "w", encoding="utf-8", newline="\n") as f:
                f.writelines(json.dumps(row) + "\n" for row in rows)
    with open(out_dir / "names.json", "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(world["names"], indent=1) + "\n")


def words_of(text: str) -> list[str]:
    """The words of a text without their punctuation."""
    return [token.strip(".,?!") for token in text.split()]


def describe(world: dict) -> str:
    """Corpus statistics, as printed after generation and copied into data/README.md."""
    docs = [doc for rows in world["docs"].values() for doc in rows]
    sentences = [s for doc in docs for s in doc["sentences"]]
    words = [w for s in sentences for w in words_of(s)]
    lengths = [len(doc["sentences"]) for doc in docs]
    lines = [f"documents {len(docs)}, sentences {len(sentences)} ({min(lengths)}-{max(lengths)} "
             f"per document, mean {np.mean(lengths):.2f}), words {len(words)}, vocabulary {len(set(words))}"]
    for name, rows in world["docs"].items():
        counts = {topic: sum(doc["topic"] == topic for doc in rows) for topic in TOPICS}
        lines.append(f"docs_{name}: {len(rows)} " + " ".join(f"{t}={c}" for t, c in counts.items()))
    for name, rows in world["spam"].items():
        n_spam = sum(row["label"] for row in rows)
        lines.append(f"spam_{name}: {len(rows)} messages, {n_spam} spam, {len(rows) - n_spam} not spam")
    spam_words = {w for rows in world["spam"].values() for row in rows for w in words_of(row["text"])}
    lines.append(f"spam vocabulary {len(spam_words)}, of which {len(spam_words - set(words))} never "
                 f"appear in the documents")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    world = make_world(args.seed)
    write_world(world, args.out)
    print(f"wrote {args.out}\n{describe(world)}")


if __name__ == "__main__":
    main()
